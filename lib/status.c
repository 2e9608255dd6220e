/* lib/status.c — phrases for status codes. */
#include "status.h"

const char *status_str(int st)
{
	switch (st) {
	case ST_OK: return "ok";
	case ST_NOMEM: return "out of memory";
	case ST_INVALID: return "invalid input";
	case ST_NOT_FOUND: return "not found";
	case ST_TOO_LARGE: return "too large";
	case ST_TRUNCATED: return "truncated input";
	case ST_IO: return "I/O error";
	case ST_DB: return "database error";
	case ST_BUSY: return "database busy";
	case ST_CRYPTO: return "cryptography error";
	case ST_DENIED: return "access denied";
	case ST_LIMITED: return "rate limited";
	case ST_CONFLICT: return "conflict";
	default: return "unknown error";
	}
}
