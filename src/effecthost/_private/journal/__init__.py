"""The replay driver: pure claim decisions over a store Protocol, and the controller that runs them."""
