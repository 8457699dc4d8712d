"""Selection and reweighting inside a domain: decontamination, a quality classifier, soft dedup, model-loss scores."""
