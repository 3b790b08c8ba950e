import sys
from pathlib import Path

# The scenario-file tests here run the scripted engine of tests/host/scenario by name.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scenario"))
