from tests.platform_assets.smallcorpus import small_corpus  # noqa: F401  (fixture)
