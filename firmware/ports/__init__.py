# Board ports: what differs between the hardware the firmware runs on, one module per port:
# the emulator's (emulator.py), the RP2040's (rp2.py) and the ESP32's (esp32.py), with what
# the boards share (board.py: flash HAL and Device on `machine`; contact.py: the key-lock
# UART; main.py: each role's loop; pins.py: one pin map per board). Each port imports only
# the firmware package above it, and a board gets only its own port (firmware/manifest.py),
# so the emulator's port never reaches a board.
