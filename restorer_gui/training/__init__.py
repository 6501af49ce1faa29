"""Training and evaluation of the app's own models (torch; never imported by the GUI at start-up).

    python -m restorer_gui.training.cli train denoise --out checkpoints/denoise-unet-s --resume
    python -m restorer_gui.training.cli eval denoise --model checkpoints/denoise-unet-s/best.pt --sets CBSD68
    python -m restorer_gui.training.cli export checkpoints/denoise-unet-s/best.pt --id denoise-unet-s

Modules: datasets (image banks, seeded batches), losses, trainer (resumable runs), evaluate (test sets
vs classical methods, comparison grids), export (safetensors + model card), cli (argparse subcommands).
"""
