"""modelnode: OpenSearch ML Commons' pretrained models in one Python process."""

__version__ = "0.1.0"
