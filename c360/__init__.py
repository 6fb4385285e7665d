"""c360: customer 360 and contact-preference API."""

__version__ = "0.1.0"
