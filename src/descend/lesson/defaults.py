"""The lesson's defaults, one set for ``descend.step`` and the command line."""

#: The bias b of an example given without one.
DEFAULT_B = 0.0
#: The learning rate α of the lesson's update w ← w − α·dw, b ← b − α·db.
DEFAULT_ALPHA = 0.1
