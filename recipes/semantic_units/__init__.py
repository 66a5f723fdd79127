"""Semantic units: k-means centroids fitted on your own audio for a semantic-units encoder (``fit_kmeans``)."""
