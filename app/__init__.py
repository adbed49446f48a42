"""Landcycle: full-life-cycle management of a city's industrial land."""
