"""The shipped data of an installed greencache: profiles/, grids/ and examples/.

Empty in the repository, where those folders sit at the top level; setup.py copies them here
when a wheel is built. :mod:`planner.paths` resolves them.
"""
