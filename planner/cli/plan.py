"""`greencache plan` (being written)."""
