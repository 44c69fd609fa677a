"""Local emulator of Microsoft Entra ID and the Defender XDR API (issue 3).

Standalone: imports nothing from the portal. Public entry points:
`python -m emulator serve ...` (cli.py), `EmulatorServer` (server.py), the pytest plugin
`emulator.pytest_plugin`, and the HTTP admin endpoints under `/_emulator/` (admin.py).
"""

from .directory import TenantSpec
from .knobs import Knobs
from .server import EmulatorServer, TenantInfo

__all__ = ["EmulatorServer", "Knobs", "TenantInfo", "TenantSpec"]
