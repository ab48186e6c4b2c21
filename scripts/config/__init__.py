"""Environment files: create, check and show them."""
