"""Plans from a later time (--plan-from) and plans made on forecasts (--foresight forecast)."""
