"""Database backends: Django's, with what Konsil's settings need of them."""
