"""GNOME's thumbnail factory (libgnome-desktop-3) runs thumbnailers inside
`bwrap` found on PATH. Prints the size of the thumbnail it made for argv[1].

    /usr/bin/python3 thumbnail.py IMAGE.png
"""
import sys

import gi

gi.require_version("GnomeDesktop", "3.0")
from gi.repository import Gio, GnomeDesktop  # noqa: E402

factory = GnomeDesktop.DesktopThumbnailFactory.new(GnomeDesktop.DesktopThumbnailSize.NORMAL)
uri = Gio.File.new_for_path(sys.argv[1]).get_uri()
try:
    pixbuf = factory.generate_thumbnail(uri, "image/png", None)
except Exception as e:  # GLib.Error
    print(f"thumbnail failed: {e}")
    sys.exit(3)
print("thumbnail", pixbuf.get_width(), pixbuf.get_height(), pixbuf.get_n_channels())
