"""The HTTP surface: dependencies, request/response models and one router per topic."""
