"""pyserial URL handlers of keylock (listed in serial.protocol_handler_packages by host/link/transport.py)."""
