"""The man pages: they render without a warning, they name every command the tool
has, and `make install` puts them where man finds them."""

import os
import re
import subprocess
import tempfile
import unittest

import harness

PAGES = {"deskbridge.7": "DESKBRIDGE(7)", "deskbridge-admin.8": "DESKBRIDGE-ADMIN(8)"}


def admin_help():
    out = subprocess.run([harness.ADMIN, "--help"], capture_output=True, text=True)
    return out.stdout + out.stderr


def render(path):
    return subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l", path],
                          capture_output=True, text=True,
                          env=dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8"))


class ManPages(unittest.TestCase):
    def test_each_page_renders_without_warnings(self):
        for name, title in PAGES.items():
            out = render(os.path.join(harness.BUILDDIR, "man", name))
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertEqual(out.stderr, "", name)
            self.assertIn(title, out.stdout)
            # A placeholder configure did not fill is @name@; unit names have one @ only.
            self.assertNotRegex(out.stdout, r"@[a-z_]+@", "%s keeps a template placeholder" % name)

    def test_the_admin_page_names_every_command_of_the_help(self):
        help_text = admin_help()
        commands = set(re.findall(r"^  ([a-z]+)", help_text.split("commands:")[1], re.M))
        self.assertGreaterEqual(len(commands), 8, help_text)
        page = open(os.path.join(harness.BUILDDIR, "man", "deskbridge-admin.8")).read()
        documented = set(re.findall(r"^\.It Cm ([a-z]+)", page, re.M))
        self.assertEqual(commands - documented, set(), "commands missing from the page")
        self.assertEqual(documented - commands, set(), "the page names commands the tool lacks")

    def test_the_pages_carry_the_configured_paths(self):
        page = open(os.path.join(harness.BUILDDIR, "man", "deskbridge-admin.8")).read()
        default_db = re.search(r"else (\S+)\.\n", admin_help()).group(1)
        self.assertIn(".Pa %s ." % default_db, page)

    def test_make_install_puts_them_where_man_finds_them(self):
        with tempfile.TemporaryDirectory() as dest:
            subprocess.run(["make", "-s", "-C", harness.BUILDDIR, "install-man",
                            "DESTDIR=" + dest], check=True, capture_output=True)
            found = sorted(os.path.relpath(os.path.join(d, f), dest)
                           for d, _, fs in os.walk(dest) for f in fs)
            self.assertEqual([os.path.basename(f) for f in found],
                             ["deskbridge.7", "deskbridge-admin.8"])
            self.assertTrue(all(re.search(r"/man/man[78]/", "/" + f) for f in found), found)
            for f in found:
                self.assertEqual(render(os.path.join(dest, f)).stderr, "")


if __name__ == "__main__":
    raise SystemExit(harness.main())
