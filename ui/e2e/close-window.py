"""Asks every X11 window named argv[1] to close, as a window manager's close button does: a
WM_DELETE_WINDOW client message (ICCCM). For the real-window suite, which has no window manager.

    DISPLAY=:99 python3 close-window.py Berth
"""
import sys

from Xlib import X, display, protocol


def walk(window):
    for child in window.query_tree().children:
        yield child
        yield from walk(child)


def main():
    name = sys.argv[1]
    d = display.Display()
    protocols = d.intern_atom("WM_PROTOCOLS")
    delete = d.intern_atom("WM_DELETE_WINDOW")
    asked = 0
    for window in walk(d.screen().root):
        if window.get_wm_name() != name:
            continue
        event = protocol.event.ClientMessage(
            window=window, client_type=protocols, data=(32, [delete, X.CurrentTime, 0, 0, 0])
        )
        window.send_event(event)
        asked += 1
    d.flush()
    if not asked:
        sys.exit(f"no window named {name}")


main()
