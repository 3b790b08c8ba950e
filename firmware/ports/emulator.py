# The emulator's board port: a Device whose readings the emulator sets before it delivers a
# frame, and whose motor pulse can be made to lose power (the lock browned out). Emulator only:
# firmware/manifest.py does not list it, so `keylock flash` never sends it to a board.
from .. import device, flash


class EmuDevice(device.Device):
    def __init__(self, flash_hal, secure):
        super().__init__(flash_hal, secure)
        self.cut_at_motor = False

    def motor_pulse(self):
        if self.cut_at_motor:
            raise flash.PowerCut("brown-out under the motor pulse")
        super().motor_pulse()
