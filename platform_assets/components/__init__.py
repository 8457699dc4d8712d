from platform_assets.components.pipeline import PipelineComponent

__all__ = ["PipelineComponent"]
