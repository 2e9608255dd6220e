/* lib/image.c — image checks over libpng, libjpeg-turbo and giflib. */
#include "image.h"

#include <gif_lib.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* jpeglib.h needs stdio.h (FILE) and size_t before it. */
#include <jpeglib.h>

#include "status.h"

enum image_format image_sniff(const void *data, size_t len)
{
	const unsigned char *p = data;

	if (len >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0)
		return IMAGE_PNG;
	if (len >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF)
		return IMAGE_JPEG;
	if (len >= 6 && (memcmp(p, "GIF87a", 6) == 0 || memcmp(p, "GIF89a", 6) == 0))
		return IMAGE_GIF;
	return IMAGE_UNKNOWN;
}

const char *image_media_type(enum image_format format)
{
	switch (format) {
	case IMAGE_PNG: return "image/png";
	case IMAGE_JPEG: return "image/jpeg";
	case IMAGE_GIF: return "image/gif";
	default: return "application/octet-stream";
	}
}

/* PNG */

struct mem_input {
	const unsigned char *data;
	size_t len, pos;
};

static void png_read_mem(png_structp png, png_bytep out, png_size_t n)
{
	struct mem_input *in = png_get_io_ptr(png);

	if (n > in->len - in->pos)
		png_error(png, "truncated");
	memcpy(out, in->data + in->pos, n);
	in->pos += n;
}

static void png_quiet(png_structp png, png_const_charp msg)
{
	(void)png;
	(void)msg;
}

static int inspect_png(const void *data, size_t len, unsigned max_w, unsigned max_h,
		       struct image_info *out)
{
	struct mem_input in = {data, len, 0};
	png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, png_quiet);
	png_infop info = png ? png_create_info_struct(png) : NULL;
	/* Volatile: set after setjmp and read after a longjmp back to it. */
	png_bytep volatile row = NULL;
	volatile int st = ST_INVALID;

	if (!info) {
		png_destroy_read_struct(&png, NULL, NULL);
		return ST_NOMEM;
	}
	if (setjmp(png_jmpbuf(png)) == 0) {
		png_set_read_fn(png, &in, png_read_mem);
		png_read_info(png, info);
		out->width = png_get_image_width(png, info);
		out->height = png_get_image_height(png, info);
		if (out->width > max_w || out->height > max_h) {
			st = ST_OK;
		} else {
			int passes = png_set_interlace_handling(png);
			png_read_update_info(png, info);
			row = malloc(png_get_rowbytes(png, info));
			if (row) {
				for (int p = 0; p < passes; p++)
					for (unsigned y = 0; y < out->height; y++)
						png_read_row(png, row, NULL);
				png_read_end(png, NULL);
				st = ST_OK;
			} else {
				st = ST_NOMEM;
			}
		}
	}
	free(row);
	png_destroy_read_struct(&png, &info, NULL);
	return st;
}

/* JPEG */

struct jpeg_guard {
	struct jpeg_error_mgr mgr;
	jmp_buf jump;
};

static void jpeg_fail(j_common_ptr cinfo)
{
	longjmp(((struct jpeg_guard *)cinfo->err)->jump, 1);
}

static void jpeg_quiet(j_common_ptr cinfo, int level)
{
	(void)cinfo;
	(void)level;
}

static int inspect_jpeg(const void *data, size_t len, unsigned max_w, unsigned max_h,
			struct image_info *out)
{
	struct jpeg_decompress_struct cinfo;
	struct jpeg_guard guard;
	/* Volatile: set after setjmp and read after a longjmp back to it. */
	JSAMPROW volatile row = NULL;
	volatile int st = ST_INVALID;

	cinfo.err = jpeg_std_error(&guard.mgr);
	guard.mgr.error_exit = jpeg_fail;
	guard.mgr.emit_message = jpeg_quiet;
	if (setjmp(guard.jump) == 0) {
		jpeg_create_decompress(&cinfo);
		jpeg_mem_src(&cinfo, data, (unsigned long)len);
		jpeg_read_header(&cinfo, TRUE);
		out->width = cinfo.image_width;
		out->height = cinfo.image_height;
		if (out->width > max_w || out->height > max_h) {
			st = ST_OK;
		} else {
			jpeg_start_decompress(&cinfo);
			row = malloc((size_t)cinfo.output_width * (size_t)cinfo.output_components);
			if (row) {
				JSAMPROW line = row;
				while (cinfo.output_scanline < cinfo.output_height)
					jpeg_read_scanlines(&cinfo, &line, 1);
				jpeg_finish_decompress(&cinfo);
				/* libjpeg only warns about a truncated file; count that as corrupt. */
				st = guard.mgr.num_warnings ? ST_INVALID : ST_OK;
			} else {
				st = ST_NOMEM;
			}
		}
	}
	free(row);
	jpeg_destroy_decompress(&cinfo);
	return st;
}

/* GIF */

static int gif_read_mem(GifFileType *gif, GifByteType *out, int n)
{
	struct mem_input *in = gif->UserData;
	size_t want = n > 0 ? (size_t)n : 0;

	if (want > in->len - in->pos)
		want = in->len - in->pos;
	memcpy(out, in->data + in->pos, want);
	in->pos += want;
	return (int)want;
}

static int inspect_gif(const void *data, size_t len, unsigned max_w, unsigned max_h,
		       struct image_info *out)
{
	struct mem_input in = {data, len, 0};
	int err = 0, st = ST_INVALID;
	GifFileType *gif = DGifOpen(&in, gif_read_mem, &err);

	if (!gif)
		return err == D_GIF_ERR_NOT_ENOUGH_MEM ? ST_NOMEM : ST_INVALID;
	out->width = (unsigned)gif->SWidth;
	out->height = (unsigned)gif->SHeight;
	if (out->width > max_w || out->height > max_h) {
		st = ST_OK;
	} else if (DGifSlurp(gif) == GIF_OK && gif->ImageCount > 0) {
		st = ST_OK;
		/* Every frame must lie inside the logical screen the header declares. */
		for (int i = 0; i < gif->ImageCount; i++) {
			GifImageDesc *d = &gif->SavedImages[i].ImageDesc;
			if (d->Left < 0 || d->Top < 0 || (unsigned)(d->Left + d->Width) > out->width ||
			    (unsigned)(d->Top + d->Height) > out->height)
				st = ST_INVALID;
		}
	}
	DGifCloseFile(gif, &err);
	return st;
}

int image_inspect(const void *data, size_t len, unsigned max_width, unsigned max_height,
		  struct image_info *out)
{
	memset(out, 0, sizeof *out);
	out->format = image_sniff(data, len);
	switch (out->format) {
	case IMAGE_PNG:
		return inspect_png(data, len, max_width, max_height, out);
	case IMAGE_JPEG:
		return inspect_jpeg(data, len, max_width, max_height, out);
	case IMAGE_GIF:
		return inspect_gif(data, len, max_width, max_height, out);
	default:
		return ST_INVALID;
	}
}
