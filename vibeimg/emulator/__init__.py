"""The local gateway emulator: ``vibeimg mock-server`` and ``--offline``."""

from vibeimg.emulator.server import Emulator, EmulatorConfig, GatewayFault, RecordedRequest

__all__ = ["Emulator", "EmulatorConfig", "GatewayFault", "RecordedRequest"]
