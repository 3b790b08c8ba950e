"""The main job (`make demo`). Until the emulator exists: the protocol tour."""

from . import cmd_tour


def add_arguments(parser):
    cmd_tour.add_arguments(parser)


def run(args) -> int:
    return cmd_tour.run(args)
