"""Stream a live session to other programs: browsers and WebXR headsets over a WebSocket
(`rehab.stream.server`, with the page it serves), avatar apps and game engines over the VMC
protocol (`rehab.stream.vmc`). `rehab.stream.frames` defines what is sent.

Importing this package imports nothing heavy.
"""

DEFAULT_HOST = "127.0.0.1"
"""Where ``--serve`` binds by default: this machine only."""
DEFAULT_PORT = 8765
"""``--serve``'s default port."""
