"""Indicator figures delivered by departments (tax, statistics, energy, environment), and what evaluations
and 亩均 ratings derive from them."""
