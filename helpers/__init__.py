"""helpers: the tested package behind the course "Autoencoders for Anomaly Detection".

One module per job; the public names are re-exported here.
"""
from .data import (
    ChecksumError,
    DataError,
    DatasetNotFoundError,
    load_mnist,
    load_optdigits,
    mnist_loaders,
    mnist_split,
    optdigits_features,
    place_datasets,
    prepare_datasets,
    tensor_loader,
)
from .latent import crossfade, decode_latent_grid, encode_dataset, interpolate_latent
from .models import (
    Autoencoder,
    ConvAutoencoder,
    ConvDenoisingAutoencoder,
    DenseAutoencoder,
    SmallConvAutoencoder,
    TabularAutoencoder,
    WideAutoencoder,
    count_parameters,
)
from .plots import (
    anomaly_detection_display,
    as_images,
    plot_anomaly_heatmaps,
    plot_digits_8x8,
    plot_histograms,
    plot_image_rows,
    plot_interpolation,
    plot_latent_map,
    plot_latent_scatter,
    plot_loss_curves,
    plot_reconstructions,
    plot_roc_curve,
    plot_score_histograms,
    plot_snapshots,
)
from .recipes import (
    COURSE_CONV_RECIPE,
    REFERENCE_CONV_RECIPE,
    load_or_train_conv_autoencoder,
    train_conv_autoencoder,
)
from .scoring import (
    calibrated_scores,
    inference,
    iter_batches,
    precision_recall_at,
    reconstruct,
    reconstruction_dataframe,
    reconstruction_errors,
    roc_auc,
    threshold_mean_std,
    threshold_percentile,
)
from .training import (
    TrainingDivergedError,
    add_noise,
    fit,
    get_device,
    load_checkpoint,
    save_checkpoint,
    set_seed,
)

__all__ = [
    # data
    "DataError", "DatasetNotFoundError", "ChecksumError", "load_mnist", "mnist_split", "mnist_loaders", "tensor_loader",
    "load_optdigits", "optdigits_features", "place_datasets", "prepare_datasets",
    # models
    "Autoencoder", "DenseAutoencoder", "ConvAutoencoder", "SmallConvAutoencoder", "ConvDenoisingAutoencoder",
    "WideAutoencoder", "TabularAutoencoder", "count_parameters",
    # training
    "TrainingDivergedError", "set_seed", "get_device", "add_noise", "fit", "save_checkpoint", "load_checkpoint",
    # scoring
    "iter_batches", "inference", "reconstruct", "reconstruction_errors", "reconstruction_dataframe",
    "threshold_mean_std", "threshold_percentile", "roc_auc", "precision_recall_at", "calibrated_scores",
    # latent space
    "encode_dataset", "interpolate_latent", "crossfade", "decode_latent_grid",
    # plots
    "as_images", "plot_image_rows", "plot_reconstructions", "anomaly_detection_display", "plot_loss_curves",
    "plot_snapshots", "plot_anomaly_heatmaps", "plot_histograms", "plot_score_histograms", "plot_roc_curve",
    "plot_latent_scatter", "plot_latent_map", "plot_interpolation", "plot_digits_8x8",
    # recipes
    "REFERENCE_CONV_RECIPE", "COURSE_CONV_RECIPE", "train_conv_autoencoder", "load_or_train_conv_autoencoder",
]
__version__ = "0.1.0"
