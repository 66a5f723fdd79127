"""A tiny diffusers ``AudioLDM2Pipeline`` built offline (no hub): every component at a tiny config with random
weights (perturbed so a mix-up of layers or components cannot pass), tokenizers trained here on a few sentences with
the ``tokenizers`` library and wrapped in transformers' fast tokenizers. ``save_pretrained`` of it is a checkpoint
directory in the published layout (``model_index.json``, one folder per component), which is what voxlite's
converter reads.

The text variant uses T5 (``tokenizer_2`` T5TokenizerFast); ``speech=True`` uses a VITS text encoder and tokenizer
(the published speech checkpoints' layout) with a CLAP/T5-free transcription path.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

CORPUS = ["rain on a tin roof", "a dog barks in the distance", "techno music with a strong upbeat tempo",
          "birds singing in the forest at dawn", "a car passes by on a wet road", "people talking in a cafe",
          "low quality, noise", "thunder and heavy rain at night"] * 3

# sizes shared by the components (they must agree across the pipeline)
CLAP_PROJECTION = 12
T5_DIM = 20
GPT_DIM = 16
MEL_BINS = 16  # = vocoder model_in_dim = VAE output width
VAE_CHANNELS = (8, 16)  # two blocks: latents are mel / 2
LATENT_CHANNELS = 4
SAMPLE_RATE = 16000
HOP = 160  # prod(upsample_rates) of the vocoder: 100 mel frames per second


def roberta_tokenizer(max_length: int = 24):
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaTokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(CORPUS, vocab_size=300, min_frequency=1,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"], show_progress=False)
    model = json.loads(bpe.to_str())["model"]
    merges = [tuple(m.split()) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    return RobertaTokenizerFast(vocab=model["vocab"], merges=merges, model_max_length=max_length)


def t5_tokenizer(tmp: Path, max_length: int = 32):
    from tokenizers import SentencePieceUnigramTokenizer
    from transformers import T5TokenizerFast

    sp = SentencePieceUnigramTokenizer()
    sp.train_from_iterator(CORPUS, vocab_size=60, special_tokens=["<pad>", "</s>", "<unk>"], unk_token="<unk>",
                           show_progress=False)
    path = tmp / "t5-tokenizer.json"
    sp.save(str(path))
    return T5TokenizerFast(tokenizer_file=str(path), extra_ids=0, model_max_length=max_length)


def _perturb(model: torch.nn.Module, seed: int, scale: float = 0.05) -> torch.nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dtype.is_floating_point:
                p.add_(scale * torch.randn(p.shape, generator=g))
    return model.eval()


def clap(vocab_size: int):
    from transformers import ClapConfig, ClapModel

    text = dict(vocab_size=vocab_size, hidden_size=16, intermediate_size=24, num_hidden_layers=2,
                num_attention_heads=2, max_position_embeddings=40, pad_token_id=1, bos_token_id=0, eos_token_id=2,
                projection_dim=CLAP_PROJECTION, layer_norm_eps=1e-5)
    audio = dict(spec_size=64, window_size=4, num_mel_bins=64, intermediate_size=24, depths=[1, 1],
                 num_attention_heads=[1, 2], num_hidden_layers=2, hidden_size=32, patch_embeds_hidden_size=16,
                 projection_dim=CLAP_PROJECTION, layer_norm_eps=1e-5, enable_fusion=False)
    cfg = ClapConfig(text_config=text, audio_config=audio, projection_dim=CLAP_PROJECTION)
    return _perturb(ClapModel(cfg), 1)


def t5(vocab_size: int):
    from transformers import T5Config, T5EncoderModel

    cfg = T5Config(vocab_size=vocab_size, d_model=T5_DIM, d_kv=6, num_heads=3, d_ff=28, num_layers=2,
                   feed_forward_proj="gated-gelu", relative_attention_num_buckets=8,
                   relative_attention_max_distance=16)
    return _perturb(T5EncoderModel(cfg), 2)


VITS_DIM = 16
VITS_MAX_LENGTH = 40
VITS_VOCAB = 183  # the pipeline writes id 182 (the original's end symbol) over the first pad


def vits_tokenizer(tmp: Path):
    """A character vocabulary (pad "_" = 0, letters, punctuation, then filler symbols up to id 182), no
    phonemizer (the published speech checkpoints phonemize with espeak; the ids path is the same)."""
    from transformers import VitsTokenizer

    symbols = ["_"] + list(" abcdefghijklmnopqrstuvwxyz.,!?'-")
    symbols += [chr(0x2460 + i) for i in range(VITS_VOCAB - len(symbols))]  # filler: circled numbers
    path = tmp / "vits-vocab.json"
    path.write_text(json.dumps({c: i for i, c in enumerate(symbols)}, ensure_ascii=False))
    return VitsTokenizer(str(path), pad_token="_", unk_token="_", add_blank=False, normalize=True,
                         phonemize=False, model_max_length=VITS_MAX_LENGTH)


def vits():
    from transformers import VitsConfig, VitsModel

    cfg = VitsConfig(vocab_size=VITS_VOCAB, hidden_size=VITS_DIM, num_hidden_layers=2, num_attention_heads=2,
                     window_size=4, ffn_dim=24, ffn_kernel_size=3, flow_size=8, spectrogram_bins=9,
                     upsample_initial_channel=8, upsample_rates=[2], upsample_kernel_sizes=[4],
                     resblock_kernel_sizes=[3], resblock_dilation_sizes=[[1]], duration_predictor_filter_channels=8,
                     posterior_encoder_num_wavenet_layers=1, prior_encoder_num_flows=1,
                     prior_encoder_num_wavenet_layers=1)
    return _perturb(VitsModel(cfg), 10)


def projection(speech: bool = False):
    from diffusers.pipelines.audioldm2.modeling_audioldm2 import AudioLDM2ProjectionModel

    if speech:  # the VITS variant: learned positions over the transcription's padded length
        model = AudioLDM2ProjectionModel(CLAP_PROJECTION, VITS_DIM, GPT_DIM, use_learned_position_embedding=True,
                                         max_seq_length=VITS_MAX_LENGTH)
    else:
        model = AudioLDM2ProjectionModel(CLAP_PROJECTION, T5_DIM, GPT_DIM)
    return _perturb(model, 3, scale=0.3)


def gpt2():
    from transformers import GPT2Config, GPT2LMHeadModel

    cfg = GPT2Config(n_embd=GPT_DIM, n_layer=2, n_head=2, n_positions=128, vocab_size=50,
                     activation_function="gelu_new")
    model = GPT2LMHeadModel(cfg)
    model.config.max_new_tokens = 8
    return _perturb(model, 4)


def unet(second_dim: int = T5_DIM):
    from diffusers.pipelines.audioldm2.modeling_audioldm2 import AudioLDM2UNet2DConditionModel

    model = AudioLDM2UNet2DConditionModel(
        block_out_channels=(8, 16), layers_per_block=1, norm_num_groups=8, sample_size=16,
        in_channels=LATENT_CHANNELS, out_channels=LATENT_CHANNELS,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=([None, GPT_DIM, second_dim], [None, GPT_DIM, second_dim]),
        attention_head_dim=(2, 4))
    return _perturb(model, 5, scale=0.1)


def vae():
    from diffusers import AutoencoderKL

    model = AutoencoderKL(in_channels=1, out_channels=1, latent_channels=LATENT_CHANNELS,
                          block_out_channels=list(VAE_CHANNELS), norm_num_groups=4, layers_per_block=1,
                          down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2,
                          scaling_factor=0.41)
    return _perturb(model, 6, scale=0.1)


def vocoder():
    from transformers import SpeechT5HifiGan, SpeechT5HifiGanConfig

    cfg = SpeechT5HifiGanConfig(model_in_dim=MEL_BINS, sampling_rate=SAMPLE_RATE, upsample_initial_channel=16,
                                upsample_rates=[4, 4, 10], upsample_kernel_sizes=[8, 8, 20],
                                resblock_kernel_sizes=[3, 5], resblock_dilation_sizes=[[1, 3], [1, 3]],
                                normalize_before=True)
    model = _perturb(SpeechT5HifiGan(cfg), 7)
    with torch.no_grad():
        model.mean.copy_(torch.randn(MEL_BINS, generator=torch.Generator().manual_seed(8)))
        model.scale.copy_(0.5 + torch.rand(MEL_BINS, generator=torch.Generator().manual_seed(9)))
    return model


def scheduler(prediction_type: str = "epsilon"):
    from diffusers import DDIMScheduler

    return DDIMScheduler(beta_start=0.0015, beta_end=0.0195, beta_schedule="scaled_linear", clip_sample=False,
                         set_alpha_to_one=False, steps_offset=1, prediction_type=prediction_type)


def feature_extractor():
    from transformers import ClapFeatureExtractor

    return ClapFeatureExtractor(feature_size=64, sampling_rate=48000, hop_length=480, max_length_s=0.5,
                                fft_window_size=1024, padding="repeatpad", truncation="rand_trunc")


def pipeline(tmp: Path, prediction_type: str = "epsilon", speech: bool = False):
    """The tiny text-to-audio pipeline (CLAP + T5 + GPT-2 + UNet + VAE + HiFi-GAN, DDIM); ``speech``: VITS in
    place of T5 (a transcription is read)."""
    from diffusers import AudioLDM2Pipeline

    tokenizer = roberta_tokenizer()
    if speech:
        tokenizer_2, encoder_2, second_dim = vits_tokenizer(tmp), vits(), VITS_DIM
    else:
        tokenizer_2 = t5_tokenizer(tmp)
        encoder_2, second_dim = t5(len(tokenizer_2)), T5_DIM
    return AudioLDM2Pipeline(vae=vae(), text_encoder=clap(len(tokenizer)), text_encoder_2=encoder_2,
                             projection_model=projection(speech), language_model=gpt2(), tokenizer=tokenizer,
                             tokenizer_2=tokenizer_2, feature_extractor=feature_extractor(),
                             unet=unet(second_dim), scheduler=scheduler(prediction_type), vocoder=vocoder())


def save_checkpoint(directory: Path, **kwargs) -> Path:
    """The tiny pipeline saved as a published-layout checkpoint directory."""
    directory.mkdir(parents=True, exist_ok=True)
    pipeline(directory, **kwargs).save_pretrained(str(directory))
    for scratch in ("t5-tokenizer.json", "vits-vocab.json"):
        (directory / scratch).unlink(missing_ok=True)
    return directory
