"""Receipt scanning: engines that read a photo, the draft they produce, the worker that runs them."""
