"""The catalogues people download today: Zoobot / galaxy-datasets tables, Galaxy10 DECaLS,
folders of class sub-folders, and the real GZ2 Kaggle rows committed under tests/data."""

import hashlib
import re

import h5py
import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, ZOO, galaxy, make_catalogue, write_png
from PIL import Image

from galaxy_utils.cli import build_parser, main
from galaxy_utils.data import formats, labels, tree
from galaxy_utils.data.catalogue import CatalogueError, resolve_images
from galaxy_utils.data.files import file_sha1
from galaxy_utils.data.labels import assign_labels, soft_targets
from galaxy_utils.data.prepare import class_counts, prepare_catalogue
from galaxy_utils.data.read import read_catalogue
from galaxy_utils.learn.runs import RunFolder

REAL_GZ2 = ROOT / "tests" / "data" / "real" / "gz2_kaggle"


# ---- Zoobot / galaxy-datasets ---------------------------------------------------------


def zoobot_table(catalogue: pd.DataFrame, campaign: str = "dr5", fractions: bool = True) -> pd.DataFrame:
    """A GZD-5 table rewritten in the galaxy-datasets layout: suffixed questions, no
    debiased columns, ``id_str`` and ``file_loc`` instead of ``png_loc``."""
    renamed = {}
    for q in tree.QUESTIONS:
        prefix = f"{q.name}-{campaign}_" if campaign else f"{q.name}_"
        renamed[q.total_column] = prefix + "total-votes"
        for answer in q.answers:
            renamed[tree.count_column(q.name, answer)] = prefix + answer
            renamed[tree.fraction_column(q.name, answer)] = prefix + answer + "_fraction"
    keep = ["iauname", "ra", "dec", *renamed]
    if not fractions:
        keep = [c for c in keep if not c.endswith("_fraction")]
    table = catalogue[keep].rename(columns=renamed)
    table.insert(0, "id_str", [f"{100 + i}_{i}" for i in range(len(table))])
    table.insert(1, "file_loc", [f"{name[:4]}/{name}.png" for name in catalogue.iauname])
    return table.drop(columns="iauname")


@pytest.fixture
def zoo_twice():
    return make_catalogue([*ZOO.values(), *ZOO.values()])


def write_images(table: pd.DataFrame, root):
    for i, loc in enumerate(table.file_loc):
        write_png(root / loc, seed=i)
    return root


def test_zoobot_dr5_gives_the_labels_and_votes_of_the_gzd5_table(zoo_twice, tmp_path):
    path = tmp_path / "decals_dr5_ortho_train_catalog.parquet"
    zoobot_table(zoo_twice, fractions=False).to_parquet(path)
    cat = read_catalogue(path)
    assert cat.attrs["format"] == "zoobot" and cat.attrs["campaign"] == "dr5"
    assert cat.attrs["notes"][0] == "campaign suffix -dr5: 10 of 10 questions mapped onto the DR5 tree"
    assert not any(re.search(r"-dr5_", c) for c in cat.columns)
    for task in ("four-class", "three-class"):
        expected = assign_labels(zoo_twice, task, keep_uncertain=True).catalogue.label.tolist()
        assert assign_labels(cat, task, keep_uncertain=True).catalogue.label.tolist() == expected
    # vote-count targets are the same numbers as the published table's
    pd.testing.assert_frame_equal(soft_targets(cat).counts, soft_targets(zoo_twice).counts)
    pd.testing.assert_frame_equal(soft_targets(cat).fractions, soft_targets(zoo_twice).fractions)

    write_images(cat, tmp_path / "images")
    cleaned, log = prepare_catalogue(cat, tmp_path / "images", "four-class")
    assert class_counts(cleaned, "four-class").to_dict() == {
        "elliptical": 2, "lenticular": 2, "spiral": 2, "irregular": 2
    }
    assert "id_str" in cleaned.columns  # the Zoobot id travels with the galaxies
    assert log.rows_in == 14 and "artifact" in set(log.table().reason)


def test_zoobot_campaigns_with_the_same_tree_add_their_votes(tmp_path):
    dr5 = zoobot_table(make_catalogue([galaxy(featured=3, edge_no=3, arms_yes=3, bar_no=3)]), "dr5")
    dr8 = zoobot_table(make_catalogue([galaxy(featured=2, edge_no=2, arms_yes=2, bar_no=2)]), "dr8")
    both = pd.concat([dr5, dr8.drop(columns=["id_str", "file_loc", "ra", "dec"])], axis=1)
    path = tmp_path / "both.csv"
    both.to_csv(path, index=False)
    cat = read_catalogue(path)
    assert cat.attrs["campaign"] == "dr5+dr8"
    assert cat["has-spiral-arms_yes"].iloc[0] == 5 and cat["smooth-or-featured_total-votes"].iloc[0] == 5
    assert cat["has-spiral-arms_yes_fraction"].iloc[0] == 1.0
    assert any("votes are added" in note for note in cat.attrs["notes"])
    # columns already named as the DR5 tree's (a catalogue with both spellings) give way
    both = pd.concat([both, pd.DataFrame({"has-spiral-arms_yes": [99]})], axis=1)
    both.to_csv(path, index=False)
    cat = read_catalogue(path)
    assert list(cat.columns).count("has-spiral-arms_yes") == 1 and cat["has-spiral-arms_yes"].iloc[0] == 5
    assert "1 vote columns without a campaign suffix replaced by the -dr5+-dr8 votes" in cat.attrs["notes"]


def dr12_row() -> dict:
    """One galaxy in the GZD-1/2 (dr12) tree: a round smooth galaxy, 10 volunteers."""
    return {
        "id_str": "dr12_0", "file_loc": "dr12/0.png",
        "smooth-or-featured-dr12_smooth": 10, "smooth-or-featured-dr12_featured-or-disk": 0,
        "smooth-or-featured-dr12_artifact": 0, "smooth-or-featured-dr12_total-votes": 10,
        "disk-edge-on-dr12_yes": 0, "disk-edge-on-dr12_no": 0, "disk-edge-on-dr12_total-votes": 0,
        "has-spiral-arms-dr12_yes": 0, "has-spiral-arms-dr12_no": 0, "has-spiral-arms-dr12_total-votes": 0,
        "bar-dr12_yes": 0, "bar-dr12_no": 0, "bar-dr12_total-votes": 0,
        "how-rounded-dr12_completely": 10, "how-rounded-dr12_in-between": 0, "how-rounded-dr12_cigar-shaped": 0,
        "how-rounded-dr12_total-votes": 10,
        "merging-dr12_neither": 10, "merging-dr12_tidal-debris": 0, "merging-dr12_both": 0,
        "merging-dr12_merger": 0, "merging-dr12_total-votes": 10,
    }


def test_zoobot_dr12_maps_what_the_trees_share_and_reports_the_rest(tmp_path):
    path = tmp_path / "dr12.csv"
    pd.DataFrame([dr12_row()]).to_csv(path, index=False)
    cat = read_catalogue(path)
    notes = "\n".join(cat.attrs["notes"])
    assert "campaign suffix -dr12: 4 of 10 questions mapped" in notes
    assert "merging (answers both, merger, neither, tidal-debris; the DR5 tree has none," in notes
    assert "bar (answers no, yes;" in notes and "spiral-winding (not in the table)" in notes
    # 'completely' round was only renamed: three-class works
    assert cat["how-rounded_round"].iloc[0] == 10
    assert assign_labels(cat, "three-class").catalogue.label.tolist() == ["round"]
    write_png(tmp_path / "dr12" / "0.png")
    with pytest.raises(CatalogueError, match="four-class task needs the question\\(s\\) merging, which campaign -dr12"):
        prepare_catalogue(cat, tmp_path, "four-class")
    cleaned, _ = prepare_catalogue(cat, tmp_path, "three-class")
    assert cleaned.label.tolist() == ["round"]
    with pytest.raises(CatalogueError, match="lacks bar, bulge-size"):
        soft_targets(cat)


def test_zoobot_gz2_campaign_cannot_make_four_class_labels(tmp_path):
    table = zoobot_table(make_catalogue([galaxy(smooth=5, round=5)]), "gz2")
    table = table.drop(columns=[c for c in table.columns if c.startswith("merging-gz2")])
    table = table.rename(columns=lambda c: c.replace("how-rounded-gz2_cigar-shaped", "how-rounded-gz2_cigar"))
    table["something-odd-gz2_yes"] = 0
    path = tmp_path / "gz2.csv"
    table.to_csv(path, index=False)
    cat = read_catalogue(path)
    assert "something-odd-gz2_yes" not in cat.columns  # a GZ2-only question is not passed on as metadata
    assert "merging (not in the table)" in "\n".join(cat.attrs["notes"])
    assert assign_labels(cat, "three-class").catalogue.label.tolist() == ["round"]
    with pytest.raises(CatalogueError, match="needs the question\\(s\\) merging"):
        formats.require_questions(cat, "four-class")


def test_zoobot_layouts_without_file_loc_or_without_suffix(zoo_twice, tmp_path):
    table = zoobot_table(zoo_twice).drop(columns="file_loc")
    table["subfolder"] = [name[:4] for name in zoo_twice.iauname]
    table["filename"] = [f"{name}.jpg" for name in zoo_twice.iauname]
    path = tmp_path / "stored.parquet"
    table.to_parquet(path)
    cat = read_catalogue(path)
    assert cat.file_loc.iloc[0] == f"{zoo_twice.iauname[0][:4]}/{zoo_twice.iauname[0]}.jpg"
    # GZ DESI: the DR5 question names, no suffix, and file_loc rather than png_loc
    desi = tmp_path / "desi.csv"
    zoobot_table(zoo_twice, campaign="").to_csv(desi, index=False)
    cat = read_catalogue(desi)
    assert cat.attrs["format"] == "zoobot"
    assert cat.attrs["notes"][0].startswith("campaign suffix none (DR5 question names): 10 of 10")


def test_zoobot_bad_counts_name_the_column_and_row(zoo_twice, tmp_path):
    table = zoobot_table(zoo_twice)
    table.loc[3, "bar-dr5_no"] = -1
    table.loc[5, "merging-dr5_total-votes"] = 1
    path = tmp_path / "bad.csv"
    table.to_csv(path, index=False)
    with pytest.raises(CatalogueError) as err:
        read_catalogue(path)
    message = str(err.value)
    assert "bad.csv: 2 problem(s) with the Zoobot catalogue" in message
    assert "column 'bar-dr5_no' has negative counts: row 3 (103_3)" in message
    assert "merging-dr5_total-votes smaller than the sum of its answer counts: row 5 (105_5)" in message


def test_zoobot_total_larger_than_its_answers_is_accepted_and_counted(zoo_twice, tmp_path):
    table = zoobot_table(zoo_twice)
    table.loc[0, "merging-dr5_total-votes"] += 3  # votes for answers the tree no longer has
    path = tmp_path / "quirk.csv"
    table.to_csv(path, index=False)
    cat = read_catalogue(path)
    assert "1 galaxies have a total-votes larger than the sum of its answers" in "\n".join(cat.attrs["notes"])
    assert cat["merging_none_fraction"].iloc[0] == pytest.approx(5 / 8)


# ---- Galaxy10 DECaLS -------------------------------------------------------------------


def write_galaxy10(path, ans, size=16, with_coordinates=True):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(len(ans), size, size, 3), dtype=np.uint8)
    with h5py.File(path, "w") as h5:
        h5["images"] = images
        h5["ans"] = np.asarray(ans, dtype=np.uint8)
        if with_coordinates:
            h5["ra"] = np.linspace(0, 10, len(ans))
            h5["dec"] = np.linspace(-5, 5, len(ans))
    return images


def test_galaxy10_classes_map_onto_each_task():
    for task, mapping in formats.GALAXY10_TASK_CLASSES.items():
        assert set(mapping) <= set(formats.GALAXY10_CLASSES)
        assert set(mapping.values()) <= set(labels.task(task).classes)
    three = formats.GALAXY10_TASK_CLASSES["three-class"]
    assert sorted(set(formats.GALAXY10_CLASSES) - set(three)) == [
        "Cigar Shaped Smooth", "Disturbed", "In-between Round Smooth", "Merging"
    ]
    four = formats.GALAXY10_TASK_CLASSES["four-class"]
    assert sorted(set(formats.GALAXY10_CLASSES) - set(four)) == ["Edge-on with Bulge", "Edge-on without Bulge"]


def test_galaxy10_prepare_writes_pngs_once_and_reports_dropped_classes(tmp_path, capsys):
    h5_path = tmp_path / "Galaxy10_DECals.h5"
    ans = [0, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9, 9]
    images = write_galaxy10(h5_path, ans)
    before = hashlib.sha1(h5_path.read_bytes()).hexdigest()
    out = tmp_path / "prepared" / "three.csv"
    argv = ["prepare", "--catalog", str(h5_path), "--image-root", str(tmp_path / "png"), "--task", "three-class",
            "--out", str(out), "--quiet"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert f"catalogue: {h5_path} (galaxy10)" in printed
    assert "Galaxy10 DECaLS: 12 images of 16x16 pixels" in printed
    assert "Galaxy10 class 'Disturbed' is not a three-class class" in printed
    assert re.search(r"-1 +Galaxy10 class 'In-between Round Smooth' is not a three-class class", printed)
    assert "wrote 8 PNGs, 0 already there" in printed
    written = pd.read_csv(out, dtype={"id": str})
    assert written.label.value_counts().to_dict() == {"spiral": 3, "edge-on": 3, "round": 2}
    # the PNGs hold the file's pixels, and the input is untouched
    first = written.iloc[0]
    assert np.array_equal(np.asarray(Image.open(first.file_loc)), images[int(first.id)])
    assert hashlib.sha1(h5_path.read_bytes()).hexdigest() == before
    # a second run (four-class needs more images) writes only the missing ones
    assert main([*argv[:-4], "four-class", "--out", str(tmp_path / "four.csv"), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "wrote 4 PNGs, 5 already there" in printed
    assert "Galaxy10 class 'Edge-on with Bulge' is not a four-class class" in printed
    four = pd.read_csv(tmp_path / "four.csv")
    assert four.label.value_counts().to_dict() == {"elliptical": 4, "spiral": 3, "irregular": 2}
    assert "lenticular   0" in printed


def test_galaxy10_never_writes_into_a_folder_it_did_not_make(tmp_path):
    h5_path = tmp_path / "Galaxy10_DECals.h5"
    write_galaxy10(h5_path, [2, 5, 8])
    mine = tmp_path / "png" / "Galaxy10_DECals"
    write_png(mine / "00000.png", seed=7)
    mine_bytes = (mine / "00000.png").read_bytes()
    with pytest.raises(CatalogueError, match="already exists and was not written by galaxy-utils"):
        prepare_catalogue(read_catalogue(h5_path), tmp_path / "png", "three-class")
    assert (mine / "00000.png").read_bytes() == mine_bytes
    # another Galaxy10 file extracted to the same place is refused too
    prepare_catalogue(read_catalogue(h5_path), tmp_path / "other", "three-class")
    write_galaxy10(h5_path, [2, 5, 9])
    with pytest.raises(CatalogueError, match="holds images written from another Galaxy10 file"):
        prepare_catalogue(read_catalogue(h5_path), tmp_path / "other", "three-class")


def test_galaxy10_bad_files_get_one_clear_line(tmp_path, capsys):
    missing = tmp_path / "no_ans.h5"
    with h5py.File(missing, "w") as h5:
        h5["images"] = np.zeros((2, 8, 8, 3), dtype=np.uint8)
    with pytest.raises(CatalogueError, match="no_ans.h5: not a Galaxy10 file: no dataset\\(s\\) ans"):
        read_catalogue(missing)
    sdss = tmp_path / "Galaxy10.h5"
    write_galaxy10(sdss, [1, 2], size=69)
    with pytest.raises(CatalogueError, match="Galaxy10 SDSS"):
        read_catalogue(sdss)
    outside = tmp_path / "outside.h5"
    write_galaxy10(outside, [1, 12])
    with pytest.raises(CatalogueError, match="'ans' has values outside 0-9: rows 1"):
        read_catalogue(outside)
    not_h5 = tmp_path / "fake.h5"
    not_h5.write_text("iauname,png_loc\n")
    code = main(["prepare", "--catalog", str(not_h5), "--image-root", str(tmp_path), "--task", "three-class",
                 "--out", str(tmp_path / "o.csv"), "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert "fake.h5: cannot be read as an HDF5 file" in err and "Traceback" not in err


# ---- folders of class sub-folders ------------------------------------------------------


def class_tree(root):
    write_png(root / "Spirals" / "a.jpg", seed=1)
    write_png(root / "Spirals" / "b.PNG", seed=2)
    write_png(root / "elliptical" / "c.png", seed=3)
    write_png(root / "Edge_on" / "nested" / "d.jpeg", seed=4)
    write_png(root / "0_merger" / "e.png", seed=5)
    write_png(root / "weird" / "f.png", seed=6)
    write_png(root / "loose.png", seed=7)
    (root / "Spirals" / "notes.txt").write_text("not an image")
    write_png(root / ".ipynb_checkpoints" / "g.png", seed=8)
    return root


def test_class_folders_through_the_cli(tmp_path, capsys):
    root = class_tree(tmp_path / "galaxies")
    out = tmp_path / "three.csv"
    assert main(["prepare", "--catalog", str(root), "--image-root", str(root), "--task", "three-class",
                 "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert f"catalogue: {root} (folders)" in printed
    assert "class folders: 0_merger 1, Edge_on 1, Spirals 2, elliptical 1, weird 1" in printed
    assert "1 image(s) directly in" in printed and "other files not used: 1 .txt" in printed
    assert "folder 'weird' is not a three-class class" in printed
    assert "folder '0_merger' is not a three-class class" in printed
    written = pd.read_csv(out)
    assert dict(zip(written.id, written.label, strict=True)) == {
        "Spirals/a.jpg": "spiral", "Spirals/b.PNG": "spiral", "elliptical/c.png": "round",
        "Edge_on/nested/d.jpeg": "edge-on",
    }
    four, _ = prepare_catalogue(read_catalogue(root), root, "four-class")
    assert dict(zip(four.id, four.label, strict=True)) == {
        "0_merger/e.png": "irregular", "Spirals/a.jpg": "spiral", "Spirals/b.PNG": "spiral",
        "elliptical/c.png": "elliptical",
    }


def test_class_folders_that_match_nothing_are_refused(tmp_path):
    write_png(tmp_path / "cats" / "a.png")
    write_png(tmp_path / "dogs" / "b.png")
    with pytest.raises(CatalogueError, match="no class folder matches a three-class class: found cats, dogs"):
        prepare_catalogue(read_catalogue(tmp_path), tmp_path, "three-class")
    empty = tmp_path / "empty"
    (empty / "spiral").mkdir(parents=True)
    with pytest.raises(CatalogueError, match="no images in class sub-folders"):
        read_catalogue(empty)


def test_no_folder_synonym_names_two_classes_of_a_task():
    for task in labels.TASKS:
        classes = [*labels.task(task).classes, labels.UNCERTAIN, labels.ARTIFACT]
        seen = {}
        for name in classes:
            for synonym in formats.CLASS_SYNONYMS.get(name, (name,)):
                assert seen.setdefault(synonym, name) == name, f"{task}: {synonym!r} names {seen[synonym]} and {name}"
    three = formats.folder_class_map("three-class")
    assert formats.match_folder("Ellipticals", three) == "round"
    assert formats.match_folder("class_2_EDGE-ON", three) == "edge-on"
    assert formats.match_folder("lenticular", three) is None
    assert formats.match_folder("S0", formats.folder_class_map("four-class")) == "lenticular"


# ---- detection, --format, fingerprints ---------------------------------------------------


def test_format_can_be_forced_and_a_wrong_one_is_one_clear_line(tmp_path, capsys):
    table = pd.DataFrame({"file_loc": ["a.png"], "label": ["spiral"]})
    path = tmp_path / "mine.csv"
    table.to_csv(path, index=False)
    code = main(["prepare", "--catalog", str(path), "--format", "folders", "--image-root", str(tmp_path),
                 "--task", "three-class", "--out", str(tmp_path / "o.csv"), "--quiet"])
    assert code == 2
    assert "mine.csv: not a folder" in capsys.readouterr().err
    with pytest.raises(CatalogueError, match="unknown catalogue format 'csv'"):
        read_catalogue(path, format="csv")
    for command in ("prepare", "train", "predict"):
        parser_args = {
            "prepare": ["--task", "three-class", "--out", "o.csv"],
            "train": ["--task", "three-class", "--profile", "fast", "--out", "run"],
            "predict": ["--model", "m.keras", "--out", "o.csv"],
        }[command]
        args = build_parser().parse_args(
            [command, "--catalog", "x", "--image-root", "y", "--format", "galaxy10", *parser_args]
        )
        assert args.format == "galaxy10"


def test_a_folder_catalogue_has_a_fingerprint(tmp_path):
    root = class_tree(tmp_path / "galaxies")
    first = file_sha1(root)
    assert first == file_sha1(root)
    write_png(root / "Spirals" / "z.png", seed=9)
    assert file_sha1(root) != first


# ---- real Galaxy Zoo 2 (Kaggle) rows ------------------------------------------------------


def test_real_gz2_kaggle_rows_are_read_labelled_and_their_images_decode():
    cat = read_catalogue(REAL_GZ2 / "training_solutions_rev1.csv")
    assert cat.attrs["format"] == "gz2-kaggle"
    assert cat.GalaxyID.tolist() == ["100008", "100023", "100053"]
    # the published cumulative fractions of each question's first level add up to 1
    assert cat[["Class1.1", "Class1.2", "Class1.3"]].sum(axis=1).to_numpy() == pytest.approx(1.0, abs=1e-5)
    four = assign_labels(cat, "four-class", keep_uncertain=True).catalogue
    assert four.label.tolist() == ["uncertain", "uncertain", "elliptical"]  # 100023's spiral is 0.591 < 0.6
    three = assign_labels(cat, "three-class", thresholds=labels.ThreeClassThresholds(agreement=0.55)).catalogue
    assert dict(zip(three.GalaxyID, three.label, strict=True)) == {"100023": "spiral"}
    located = resolve_images(cat, REAL_GZ2, verify="decode")
    assert located.report.n_removed == 0
    assert Image.open(located.catalogue.file_loc.iloc[0]).size == (424, 424)


def test_real_gz2_kaggle_rows_are_prepared():
    """``prepare_catalogue`` (what ``galaxy-utils prepare`` and training run) keeps the GZ2
    Kaggle label columns and finds the images."""
    cat = read_catalogue(REAL_GZ2 / "training_solutions_rev1.csv")
    prepared, log = prepare_catalogue(cat, REAL_GZ2, "four-class", keep_uncertain=True, verify="exists")
    assert prepared.GalaxyID.tolist() == ["100008", "100023", "100053"]
    assert {"Class1.1", "Class11.6", "file_loc", "label"} <= set(prepared.columns)
    assert prepared.label.tolist() == ["uncertain", "uncertain", "elliptical"]


# ---- training and prediction read every format ---------------------------------------------


@pytest.mark.slow
def test_train_and_predict_on_galaxy10_and_class_folders(tmp_path, monkeypatch, capsys):
    from galaxy_utils.learn import profiles

    tiny = profiles.Profile(
        name="tiny", task="three-class", image_size=16, crop_fraction=1.0, greyscale=True, split="fraction",
        val_fraction=0.2, test_fraction=0.2, balance="none", random_augment=False, model="three-class", epochs=1,
        batch_size=8, learning_rate=1e-3,
    )
    monkeypatch.setitem(profiles.PROFILES, ("three-class", "tiny"), tiny)
    h5_path = tmp_path / "Galaxy10_DECals.h5"
    write_galaxy10(h5_path, [2, 5, 8, 9, 6, 2, 7, 8, 2, 5, 9, 2, 6, 8, 7, 2, 5, 9, 0, 3], size=24)
    folders = tmp_path / "mine"
    for i in range(18):
        write_png(folders / ("spiral", "round", "edge-on")[i % 3] / f"{i}.png", size=24, seed=i)
    for catalog, image_root, fmt in ((h5_path, tmp_path / "png", "galaxy10"), (folders, folders, "folders")):
        run = tmp_path / f"run-{fmt}"
        assert main(["train", "--task", "three-class", "--catalog", str(catalog), "--image-root", str(image_root),
                     "--format", fmt, "--profile", "tiny", "--out", str(run), "--quiet"]) == 0
        assert "held-out accuracy" in capsys.readouterr().out
        assert read_run_format(run) == fmt
        out = tmp_path / f"predicted-{fmt}.csv"
        assert main(["predict", "--model", str(run / "model.keras"), "--catalog", str(catalog),
                     "--image-root", str(image_root), "--out", str(out)]) == 0
        assert f"catalogue: {catalog} ({fmt})" in capsys.readouterr().out
        predicted = pd.read_csv(out)
        assert len(predicted) == {"galaxy10": 20, "folders": 18}[fmt]  # every image, mapped class or not
        assert "id" in predicted.columns and predicted.predicted_class.isin(["spiral", "round", "edge-on"]).all()


def read_run_format(run) -> str:
    return RunFolder(run).run()["catalog_format"]


def test_vote_count_preparation_reads_a_zoobot_table_and_refuses_the_rest(zoo_twice, tmp_path):
    from galaxy_utils.learn.votes import prepare_vote_catalogue

    path = tmp_path / "zoobot.csv"
    table = zoobot_table(zoo_twice)
    table.to_csv(path, index=False)
    write_images(table, tmp_path / "images")
    prepared, log = prepare_vote_catalogue(read_catalogue(path), tmp_path / "images")
    assert len(prepared) == 14 and log.rows_out == 14
    assert soft_targets(prepared).counts.to_numpy().sum() == soft_targets(zoo_twice).counts.to_numpy().sum()
    dr12 = tmp_path / "dr12.csv"
    pd.DataFrame([dr12_row()]).to_csv(dr12, index=False)
    with pytest.raises(CatalogueError, match="needs every question's counts; the catalogue lacks bar, bulge-size"):
        prepare_vote_catalogue(read_catalogue(dr12), tmp_path)
    write_png(tmp_path / "folders" / "spiral" / "a.png")
    with pytest.raises(CatalogueError, match="needs a GZD-5 or Zoobot catalogue.*this one is folders"):
        prepare_vote_catalogue(read_catalogue(tmp_path / "folders"), tmp_path)


def test_galaxy10_extraction_resumes_missing_images_in_windows(tmp_path):
    h5_path = tmp_path / "Galaxy10_DECals.h5"
    images = write_galaxy10(h5_path, [2, 5, 8, 9, 6, 2, 7])
    cat = read_catalogue(h5_path)
    first = formats.extract_galaxy10_images(cat, tmp_path / "png", chunk=2)
    assert first.report.note.startswith("wrote 7 PNGs, 0 already there")
    for lost in ("00001.png", "00006.png"):  # scattered, as after an interrupted run
        (tmp_path / "png" / "Galaxy10_DECals" / lost).unlink()
    again = formats.extract_galaxy10_images(cat, tmp_path / "png", chunk=2)
    assert again.report.note.startswith("wrote 2 PNGs, 5 already there")
    for row in (1, 6):
        assert np.array_equal(np.asarray(Image.open(tmp_path / "png" / cat.file_loc[row])), images[row])
    assert not list((tmp_path / "png").rglob("*.partial"))
