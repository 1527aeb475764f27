"""greencache: carbon-aware capacity planning for LLM serving with an SSD KV-cache tier."""

__version__ = "0.2.2"
