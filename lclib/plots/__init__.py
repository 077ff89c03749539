"""Figure helpers, one module per topic (``lclib.plots.overview``, ``lclib.plots.rfm``...).

Conventions for every ``plot_*`` function: takes ``ax=None`` (a new figure is made
when None), checks its arguments first (ValueError), passes ``**kwargs`` to the main
matplotlib call where sensible, titles the plot, labels both axes with units, and
returns the Axes. No pyplot global state is changed beyond creating a figure.
"""
