"""The axis simulator's parts: `faults` (injected faults), `state` (what the axis holds and how it answers), `http`
(the VXP protocol and the `/_sim/` control endpoints over HTTP). `devstack.axis_simulator` puts them together.
"""
