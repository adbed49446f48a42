"""Parcels: tiers from geometry, the planning lock (rule 1), the plot-ratio cap (rule 3), history."""
