import sys
from pathlib import Path

# scripted_engine.py is imported by name: by these tests and by the engine factory spec
# "scripted_engine:make" that the CLI and the plugin load.
sys.path.insert(0, str(Path(__file__).resolve().parent))
