"""`greencache grid` (being written)."""
