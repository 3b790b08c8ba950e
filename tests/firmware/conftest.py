import sys
from pathlib import Path

# These files are also run inside MicroPython, where they import `fwenv` as a top-level module.
sys.path.insert(0, str(Path(__file__).resolve().parent))
