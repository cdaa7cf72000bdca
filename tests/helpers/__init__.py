"""Small shared builders for tests (sinabs models, LayerGraph comparison)."""
