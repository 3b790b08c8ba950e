# One pin map per board, in one place: which GPIO, UART and ADC does what. `keylock flash
# --board NAME` installs a main.py that names its map (ports/main.py), and the README's
# wiring table is these maps. A key and a lock use the same map; each role drives the pins it
# has (the key: insertion switch, the lock's power switch, RTC, buzzer; the lock: the motor's
# H-bridge, its temperature sensor).
#
# The contact is one data wire between key and lock (plus ground and the key's supply to the
# lock): a half-duplex UART whose TX and RX pins are joined at the contact, TX through a
# 1 kOhm resistor (ports/contact.py), so each side also hears its own bytes.
#
#   platform      sys.platform of MicroPython on that board: main.py starts the port only there
#   module        the board's port module in this package (ports/rp2.py, ports/esp32.py)
#   mpy_arch      its CPU for mpy-cross -march (the ports' native code is compiled for it)
#   uart          the contact's UART id, its TX and RX pins and its baud rate
#   insert        input, pulled up: the key's insertion switch closes it to ground when inserted
#   lock_power    output: a high-side switch (P-MOSFET) giving the key's battery to the lock
#   led_green, led_red, buzzer (PWM)
#   motor_a, motor_b   the H-bridge's two inputs (DRV8837-style: IN1/IN2)
#   supply_adc    the supply, through a divider of supply_div (Pico: VSYS/3 on GP29)
#   temp_adc      the temperature: the RP2040's internal sensor (ADC channel 4); on the ESP32
#                 an analogue sensor (TMP36: 500 mV at 0 C, 10 mV/C) on an ADC1 pin
#   flash_len     the raw flash partition of the power-fail-safe store: rp2, the top
#                 flash_len bytes of rp2.Flash()'s region (the filesystem's, which must end
#                 before them); esp32, a data partition labelled flash_label

PICO = {
    "platform": "rp2",
    "module": "rp2",
    "mpy_arch": "armv6m",
    "uart": 0,
    "tx": 0,
    "rx": 1,
    "baud": 57600,
    "insert": 2,
    "lock_power": 3,
    "led_green": 4,
    "led_red": 5,
    "buzzer": 6,
    "motor_a": 7,
    "motor_b": 8,
    "supply_adc": 29,
    "supply_div": 3,
    "temp_adc": 4,
    # The top 128 KiB of the storage region (README, "Real boards": the filesystem made smaller).
    "flash_len": 0x20000,
}

ESP32 = {
    "platform": "esp32",
    "module": "esp32",
    "mpy_arch": "xtensawin",
    "uart": 2,
    "tx": 17,
    "rx": 16,
    "baud": 57600,
    "insert": 4,
    "lock_power": 5,
    "led_green": 18,
    "led_red": 19,
    "buzzer": 23,
    "motor_a": 25,
    "motor_b": 26,
    "supply_adc": 34,
    "supply_div": 2,
    "temp_adc": 35,
    "flash_label": "keylock",
}

BOARDS = {"pico": PICO, "esp32": ESP32}
