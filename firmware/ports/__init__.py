# Board ports: what differs between the hardware the firmware runs on (the emulator's now;
# rp2 and esp32 to come), one module per port. Each port imports only the firmware package
# above it, and only the ports a board needs are flashed (firmware/manifest.py), so the
# emulator's port never reaches a board.
