"""What the clients call to record analytics events: evaluations, identify, custom events.

The recorder is compiled (``ldfast._ext.recorder``; see its docstring): each event processor owns
one (``EventProcessor.recorder``), and the clients' evaluation core calls it directly. ``None`` in
the core when events are off.
"""
from ldfast._ext.recorder import Recorder

__all__ = ("Recorder",)
