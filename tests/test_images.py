"""The image stage: decoding every mode, crop and resize, corrupt files, and the on-disk cache."""

import os

import numpy as np
import pandas as pd
import pytest
from conftest import write_corrupt_png, write_png
from PIL import Image

from galaxy_utils.images import store
from galaxy_utils.images.decode import ImageReadError, ImageSpec, load_image, measure_extent, normalise_light, sky_level
from galaxy_utils.images.store import ImageStore, load_images, preprocess_catalogue, source_digest


def centre_marked(size: int = 40) -> np.ndarray:
    """Black RGB image with a white centre square of half the side, and a red left edge."""
    pixels = np.zeros((size, size, 3), dtype=np.uint8)
    q = size // 4
    pixels[q : size - q, q : size - q] = 255
    pixels[:, :2, 0] = 255
    return pixels


# --------------------------------------------------------------------------------------
# ImageSpec and its cache key
# --------------------------------------------------------------------------------------


def test_spec_channels_shape_and_validation():
    assert ImageSpec(64, 0.5, greyscale=True).shape == (64, 64, 1)
    assert ImageSpec(224).channels == 3
    for bad in (dict(size=0), dict(size=8, crop_fraction=0), dict(size=8, crop_fraction=1.5),
                dict(size=8, resample="nearest")):
        with pytest.raises(ValueError):
            ImageSpec(**bad)


def test_cache_key_is_stable_and_changes_with_every_parameter():
    base = ImageSpec(64, 0.5, True)
    assert base.key == ImageSpec(64, 0.5, True).key == "size64-crop0.5-grey-lanczos-v1"
    variants = [ImageSpec(65, 0.5, True), ImageSpec(64, 0.5001, True), ImageSpec(64, 0.5, False),
                ImageSpec(64, 0.5, True, resample="box")]
    keys = {base.key, *(spec.key for spec in variants)}
    assert len(keys) == 1 + len(variants)


# --------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["RGB", "L", "RGBA"])
def test_png_modes_give_the_requested_shape(tmp_path, mode):
    path = write_png(tmp_path / f"{mode}.png", size=48, mode=mode)
    assert load_image(path, ImageSpec(16)).shape == (16, 16, 3)
    grey = load_image(path, ImageSpec(16, greyscale=True))
    assert grey.shape == (16, 16, 1) and grey.dtype == np.uint8


def test_palette_png_decodes_through_its_palette(tmp_path):
    rgb = centre_marked()
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    Image.fromarray(rgb).quantize(colors=8).save(tmp_path / "palette.png")
    assert Image.open(tmp_path / "palette.png").mode == "P"
    spec = ImageSpec(20)
    np.testing.assert_array_equal(load_image(tmp_path / "palette.png", spec), load_image(tmp_path / "rgb.png", spec))


def test_transparent_pixels_become_black_sky(tmp_path):
    rgba = np.full((32, 32, 4), 200, dtype=np.uint8)
    rgba[..., 3] = 255
    rgba[:, :16, 3] = 0  # left half fully transparent
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    out = load_image(tmp_path / "rgba.png", ImageSpec(32, resample="box"))
    assert (out[:, :15] == 0).all() and (out[:, 17:] == 200).all()
    palette = Image.fromarray(rgba[..., :3]).quantize(colors=4)
    palette.info["transparency"] = 0
    palette.save(tmp_path / "palette-transparent.png", transparency=0)
    assert load_image(tmp_path / "palette-transparent.png", ImageSpec(8)).shape == (8, 8, 3)


def test_sixteen_bit_greyscale_is_scaled_not_clipped(tmp_path):
    values = np.full((16, 16), 65535 // 2, dtype=np.uint16)
    Image.fromarray(values).save(tmp_path / "deep.png")
    out = load_image(tmp_path / "deep.png", ImageSpec(8, greyscale=True))
    assert abs(int(out.mean()) - 127) <= 1


@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_jpeg_decodes_close_to_the_png(tmp_path, mode):
    pixels = centre_marked(96)
    image = Image.fromarray(pixels).convert(mode)
    image.save(tmp_path / "a.png")
    image.save(tmp_path / "a.jpg", quality=95)
    spec = ImageSpec(24, greyscale=(mode == "L"))
    jpeg, png = load_image(tmp_path / "a.jpg", spec), load_image(tmp_path / "a.png", spec)
    assert jpeg.shape == png.shape
    assert np.abs(jpeg.astype(int) - png.astype(int)).mean() < 6


def test_centre_crop_keeps_the_centre(tmp_path):
    Image.fromarray(centre_marked(40)).save(tmp_path / "marked.png")
    # BOX: each output pixel averages exactly its footprint, so the geometry shows plainly.
    cropped = load_image(tmp_path / "marked.png", ImageSpec(10, crop_fraction=0.5, resample="box"))
    assert cropped.min() == 255  # only the white centre is left
    whole = load_image(tmp_path / "marked.png", ImageSpec(10, resample="box"))
    assert whole[0, 5].max() < 10 and whole[5, 5].min() > 245 and whole[5, 0, 0] > whole[5, 0, 1]


def test_non_square_images_crop_a_centred_square(tmp_path):
    Image.fromarray(np.zeros((30, 60, 3), dtype=np.uint8)).save(tmp_path / "wide.png")
    assert load_image(tmp_path / "wide.png", ImageSpec(12, 0.5)).shape == (12, 12, 3)


def test_corrupt_and_missing_files_name_themselves(tmp_path):
    corrupt = write_corrupt_png(tmp_path / "J000000.00+000000.0.png")
    with pytest.raises(ImageReadError, match="J000000.00.000000.0.png.*cannot be decoded") as info:
        load_image(corrupt, ImageSpec(8))
    assert info.value.path == str(corrupt)
    (tmp_path / "text.png").write_text("not an image")
    with pytest.raises(ImageReadError, match="text.png"):
        load_image(tmp_path / "text.png", ImageSpec(8))
    with pytest.raises(ImageReadError, match="missing.png: image file missing"):
        load_image(tmp_path / "missing.png", ImageSpec(8))


# --------------------------------------------------------------------------------------
# The cache
# --------------------------------------------------------------------------------------


def test_cache_serves_what_load_image_computes(tmp_path):
    path = write_png(tmp_path / "a.png", size=48)
    spec = ImageSpec(16, 0.5, True)
    cache = ImageStore(tmp_path / "cache", spec)
    first, from_cache = cache.load(path)
    assert not from_cache
    second, from_cache = cache.load(path)
    assert from_cache
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(second, load_image(path, spec))
    assert cache.root == tmp_path / "cache" / spec.key
    # One plain memory-mappable array per spec: row r is image r.
    pixels = np.memmap(cache.root / store.PIXELS, dtype=np.uint8, mode="r", shape=(1, *spec.shape))
    np.testing.assert_array_equal(pixels[cache.rows_of([source_digest(path)])[0]], first)


def test_cache_entries_differ_per_parameter(tmp_path):
    path = write_png(tmp_path / "a.png", size=48)
    specs = [ImageSpec(16), ImageSpec(16, 0.5), ImageSpec(16, greyscale=True), ImageSpec(17),
             ImageSpec(16, resample="box")]
    roots = {ImageStore(tmp_path / "cache", spec).root for spec in specs}
    assert len(roots) == len(specs)
    for spec in specs:
        np.testing.assert_array_equal(ImageStore(tmp_path / "cache", spec)(path), load_image(path, spec))


def test_changed_source_file_never_reuses_the_stale_entry(tmp_path):
    path = write_png(tmp_path / "a.png", size=32, seed=1)
    spec = ImageSpec(8)
    cache = ImageStore(tmp_path / "cache", spec)
    old = cache(path)
    stat = os.stat(path)
    write_png(path, size=32, seed=2)  # new pixels, and a later modification time
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    new, from_cache = cache.load(path)
    assert not from_cache
    assert not np.array_equal(old, new)
    np.testing.assert_array_equal(new, load_image(path, spec))
    # Only the modification time changed: still a different entry.
    before = source_digest(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))
    assert source_digest(path) != before
    # The same file under another path (a copy) is another entry too.
    copy = tmp_path / "b.png"
    copy.write_bytes(path.read_bytes())
    assert source_digest(copy) != source_digest(path)


def test_torn_or_corrupt_index_records_are_not_trusted(tmp_path):
    files = [write_png(tmp_path / f"g{i}.png", size=32, seed=i) for i in range(3)]
    spec = ImageSpec(8)
    cache = ImageStore(tmp_path / "cache", spec)
    rows, _ = cache.fill(files)
    assert rows.tolist() == [0, 1, 2]
    index = cache.root / store.INDEX
    index.write_bytes(index.read_bytes()[:-10])  # the last record torn, as a killed writer leaves it
    fresh = ImageStore(tmp_path / "cache", spec)
    assert len(fresh) == 2 and fresh.rows_of([source_digest(f) for f in files]).tolist() == [0, 1, -1]
    again, from_cache = fresh.load(files[2])
    assert not from_cache
    np.testing.assert_array_equal(again, load_image(files[2], spec))
    data = bytearray(index.read_bytes())
    data[store.RECORD.itemsize + 3] ^= 0xFF  # a flipped bit in row 1's record: it and all after it untrusted
    index.write_bytes(bytes(data))
    assert len(ImageStore(tmp_path / "cache", spec)) == 1
    rows, _ = ImageStore(tmp_path / "cache", spec).fill(files)  # refilled, row by row as before
    assert rows.tolist() == [0, 1, 2]
    for row, path in zip(rows, files, strict=True):
        np.testing.assert_array_equal(ImageStore(tmp_path / "cache", spec).take([row])[0], load_image(path, spec))


def test_a_killed_append_leaves_no_trusted_row(tmp_path, monkeypatch):
    path = write_png(tmp_path / "a.png", size=32)
    cache = ImageStore(tmp_path / "cache", ImageSpec(8))

    def killed(fd):
        raise KeyboardInterrupt  # pixels written, index not yet

    monkeypatch.setattr(store.os, "fsync", killed)
    with pytest.raises(KeyboardInterrupt):
        cache(path)
    monkeypatch.undo()
    assert len(ImageStore(tmp_path / "cache", ImageSpec(8))) == 0
    assert not ImageStore(tmp_path / "cache", ImageSpec(8)).load(path)[1]
    assert ImageStore(tmp_path / "cache", ImageSpec(8)).load(path)[1]


def test_an_interrupted_fill_keeps_its_finished_chunks(tmp_path, monkeypatch):
    files = [write_png(tmp_path / f"g{i}.png", size=32, seed=i) for i in range(6)]
    spec = ImageSpec(8)
    real = store.load_image

    def dies_on_the_fifth(path, spec):
        if str(path).endswith("g4.png"):
            raise KeyboardInterrupt
        return real(path, spec)

    monkeypatch.setattr(store, "load_image", dies_on_the_fifth)
    with pytest.raises(KeyboardInterrupt):
        ImageStore(tmp_path / "cache", spec).fill(files, chunk=2, workers=1)
    monkeypatch.undo()
    assert len(ImageStore(tmp_path / "cache", spec)) == 4  # two whole chunks
    report = preprocess_catalogue(pd.DataFrame({"iauname": list("abcdef"), "file_loc": list(map(str, files))}),
                                  spec, tmp_path / "cache", progress=False)
    assert (report.n_cached, report.n_decoded) == (4, 2)


def _fill_in_another_process(cache_dir, files):
    ImageStore(cache_dir, ImageSpec(8)).fill(files, chunk=1, workers=1)


def test_two_processes_can_fill_one_store(tmp_path):
    import multiprocessing

    files = [str(write_png(tmp_path / f"g{i}.png", size=32, seed=i)) for i in range(12)]
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_fill_in_another_process, args=(tmp_path / "cache", files[i::2] + files))
               for i in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    cache = ImageStore(tmp_path / "cache", ImageSpec(8))
    rows = cache.rows_of([source_digest(f) for f in files])
    assert (rows >= 0).all() and 12 <= len(cache) <= 24  # a race may store an image twice; either copy serves
    for row, path in zip(rows, files, strict=True):
        np.testing.assert_array_equal(cache.take([row])[0], load_image(path, ImageSpec(8)))


def test_preprocess_catalogue_reports_unreadable_images(tmp_path):
    files = [write_png(tmp_path / f"g{i}.png", size=32, seed=i) for i in range(4)]
    files.append(write_corrupt_png(tmp_path / "broken.png"))
    files.append(tmp_path / "gone.png")
    catalogue = pd.DataFrame({"iauname": [f"J{i}" for i in range(6)], "file_loc": [str(f) for f in files]})
    catalogue = pd.concat([catalogue, catalogue.iloc[[0]]], ignore_index=True)  # an augmented copy: one file
    report = preprocess_catalogue(catalogue, ImageSpec(8), tmp_path / "cache", workers=2, progress=False)
    assert (report.n_files, report.n_cached, report.n_decoded) == (6, 0, 4)
    assert report.unreadable["id"].tolist() == ["J4", "J5"]
    assert report.unreadable["file_loc"].tolist() == [str(files[4]), str(files[5])]
    assert "cannot be decoded" in report.unreadable["error"].iloc[0]
    assert report.unreadable["error"].iloc[1] == "image file missing"
    assert "J4" in report.format()
    again = preprocess_catalogue(catalogue, ImageSpec(8), tmp_path / "cache", progress=False)
    assert (again.n_cached, again.n_decoded, len(again.unreadable)) == (4, 0, 2)


def test_load_images_stacks_and_names_the_first_bad_file(tmp_path):
    files = [write_png(tmp_path / f"g{i}.png", size=32, seed=i) for i in range(3)]
    stacked = load_images(files, ImageSpec(8, greyscale=True), cache_dir=tmp_path / "cache")
    assert stacked.shape == (3, 8, 8, 1) and stacked.dtype == np.uint8
    np.testing.assert_array_equal(stacked[2], load_image(files[2], ImageSpec(8, greyscale=True)))
    with pytest.raises(ImageReadError, match="nope.png"):
        load_images([*files, tmp_path / "nope.png"], ImageSpec(8))


# --------------------------------------------------------------------------------------
# The measured crop
# --------------------------------------------------------------------------------------


def gaussian_galaxy(side: int, sigma: float, *, peak: float = 200.0, sky: float = 10.0, noise: float = 2.0,
                    seed: int = 0, centre: tuple[float, float] | None = None) -> np.ndarray:
    """A round Gaussian galaxy of width ``sigma`` on a noisy sky, as uint8 greyscale."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:side, :side]
    cy, cx = centre if centre is not None else ((side - 1) / 2, (side - 1) / 2)
    light = peak * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma**2))
    return np.clip(sky + light + rng.normal(0, noise, (side, side)), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("sigma", [6.0, 12.0, 24.0])
def test_measured_extent_is_the_ninety_percent_light_radius(sigma):
    # A 2-D Gaussian holds 90% of its light within sigma * sqrt(2 ln 10) = 2.146 sigma.
    r90 = measure_extent(gaussian_galaxy(300, sigma))
    assert r90 == pytest.approx(2.146 * sigma, rel=0.1)


def test_measured_extent_ignores_a_bright_neighbour_and_survives_a_blank_image():
    alone = gaussian_galaxy(300, 10.0)
    neighbour = gaussian_galaxy(300, 10.0, centre=(60.0, 60.0), sky=0.0, noise=0.0)
    crowded = np.clip(alone.astype(int) + neighbour, 0, 255).astype(np.uint8)
    assert measure_extent(crowded) == pytest.approx(measure_extent(alone), rel=0.05)
    assert measure_extent(np.zeros((100, 100), np.uint8)) == 25.0  # a quarter of the side


def test_measured_crop_frames_small_and_large_galaxies_alike(tmp_path):
    # The crop follows the galaxy: the same profile at twice the size gives the same model input.
    spec = ImageSpec(32, crop="measured", crop_extent=1.5, greyscale=True)
    for sigma in (8.0, 16.0):
        Image.fromarray(gaussian_galaxy(400, sigma, noise=0.5)).save(tmp_path / f"g{sigma:.0f}.png")
    small, large = (load_image(tmp_path / f"g{s}.png", spec).astype(float) for s in ("8", "16"))
    assert np.abs(small - large).mean() < 3
    # and the crop is 2 * 1.5 * r90 wide: the galaxy's edge-to-centre contrast is the same at every size.
    centred = load_image(tmp_path / "g8.png", ImageSpec(32, crop_fraction=0.5, greyscale=True)).astype(float)
    assert np.abs(small - centred).mean() > 10  # a fixed crop frames it differently


def test_measured_crop_has_its_own_cache_key_and_leaves_the_published_keys_alone():
    assert ImageSpec(64, 0.5, True).key == "size64-crop0.5-grey-lanczos-v1"
    measured = {ImageSpec(64, crop="measured").key, ImageSpec(64, crop="measured", crop_extent=2.0).key}
    assert len(measured) == 2 and ImageSpec(64).key not in measured
    with pytest.raises(ValueError, match="crop must be one of"):
        ImageSpec(64, crop="petrosian")


def test_a_digest_ending_in_zero_bytes_round_trips(tmp_path):
    # NumPy's fixed-width bytes drop trailing zero bytes; the store's records must not care.
    spec = ImageSpec(4, greyscale=True)
    digest = b"\x07" * 18 + b"\x00\x00"
    ImageStore(tmp_path, spec).append([np.array([digest], dtype="S20")[0]], np.ones((1, *spec.shape), np.uint8))
    fresh = ImageStore(tmp_path, spec)
    assert len(fresh) == 1 and fresh.rows_of([digest]).tolist() == [0]


# The photometric normalisation
# --------------------------------------------------------------------------------------


def test_normalised_images_of_two_surveys_agree(tmp_path):
    # One galaxy seen by a 'grey-sky' survey (sky 60, brighter) and a 'black-sky' one (sky 3,
    # half the contrast): raw, they differ by tens of levels; normalised, by a few.
    shape = gaussian_galaxy(200, 10.0, peak=200.0, sky=0.0, noise=0.0).astype(float) / 200.0
    grey_sky = np.clip(60 + 180 * shape, 0, 255).astype(np.uint8)
    black_sky = np.clip(3 + 90 * shape, 0, 255).astype(np.uint8)
    for name, pixels in (("grey", grey_sky), ("black", black_sky)):
        Image.fromarray(np.repeat(pixels[..., None], 3, axis=2)).save(tmp_path / f"{name}.png")
    spec = ImageSpec(32, crop_fraction=0.5, normalise=True)
    raw = [load_image(tmp_path / f"{n}.png", ImageSpec(32, crop_fraction=0.5)).astype(float) for n in ("grey", "black")]
    normalised = [load_image(tmp_path / f"{n}.png", spec).astype(float) for n in ("grey", "black")]
    assert np.abs(raw[0] - raw[1]).mean() > 30
    assert np.abs(normalised[0] - normalised[1]).mean() < 3
    # the sky lands at 32 and the bright end near 200
    corner = load_image(tmp_path / "black.png", ImageSpec(32, normalise=True))[0, 0]
    assert np.all(np.abs(corner.astype(int) - 32) <= 1)
    assert 200 <= normalised[1].max() <= 235  # the 99th percentile at 200, the very centre a little above


def test_normalisation_keeps_colour_ratios_and_has_its_own_cache_key():
    sky = np.array([10.0, 20.0, 5.0])
    pixels = np.zeros((20, 20, 3))
    pixels[:] = sky
    pixels[5:15, 5:15] += np.array([100.0, 50.0, 25.0])  # a red galaxy: g-band 4x the z-band
    out = normalise_light(pixels, sky).astype(float) - 32
    centre = out[10, 10]
    assert centre[0] / centre[2] == pytest.approx(4.0, rel=0.05)
    assert ImageSpec(64, normalise=True).key != ImageSpec(64).key
    assert sky_level(pixels).tolist() == sky.tolist()
