"""expand_inputs: paths, local and S3 globs, S3 prefixes and @list files -> the inputs, in order, each once."""
import fsspec
import pytest

from s3_server import s3_bucket, s3_server  # noqa: F401 - fixtures
from stream.source.inputs import expand_inputs


@pytest.fixture()
def videos(tmp_path):
    """tmp_path/videos: a.mp4, b.mp4, notes.txt and an image folder frames/."""
    folder = tmp_path / "videos"
    (folder / "frames").mkdir(parents=True)
    for name in ("b.mp4", "a.mp4", "notes.txt", "frames/0.png"):
        (folder / name).write_bytes(b"x")
    return folder


@pytest.fixture()
def bucket(s3_bucket):
    """The test bucket holding v/a.mp4, v/sub/b.MOV, v/notes.txt, other/c.mkv and empty/readme.md."""
    fs = fsspec.filesystem("s3")
    for key in ("v/a.mp4", "v/sub/b.MOV", "v/notes.txt", "other/c.mkv", "empty/readme.md"):
        fs.pipe_file(f"{s3_bucket}/{key}", b"x")
    return s3_bucket


def test_a_local_glob_gives_its_matches_sorted(videos):
    assert expand_inputs([f"{videos}/*.mp4"]) == [f"{videos}/a.mp4", f"{videos}/b.mp4"]


def test_a_local_folder_is_one_input(videos):
    assert expand_inputs([f"{videos}/frames/"]) == [f"{videos}/frames"]


def test_order_is_kept_and_duplicates_dropped(videos):
    b = f"{videos}/b.mp4"
    assert expand_inputs([b, f"{videos}/*.mp4", f"{videos}/frames", b, "-"]) == [
        b, f"{videos}/a.mp4", f"{videos}/frames", "-"]


def test_paths_and_stream_urls_are_kept_as_given(tmp_path):
    items = ["udp://127.0.0.1:5000", "rtsp://camera/live?x=1", "-", "s3://bucket/clip.mp4", str(tmp_path / "later.mp4")]
    assert expand_inputs(items) == items


def test_a_glob_matching_nothing_names_the_pattern(videos):
    with pytest.raises(ValueError, match=r"videos/\*\.mkv matches no file"):
        expand_inputs([f"{videos}/*.mkv"])


def test_a_list_file_with_comments_and_relative_paths(videos, tmp_path):
    listing = videos / "todo.txt"
    listing.write_text(f"# the day's clips\n\nb.mp4\n  *.mp4  \n{tmp_path}/other.mov\nudp://0.0.0.0:5000\nframes\n")
    assert expand_inputs([f"@{listing}"]) == [f"{videos}/b.mp4", f"{videos}/a.mp4", f"{tmp_path}/other.mov",
                                              "udp://0.0.0.0:5000", f"{videos}/frames"]


def test_a_missing_list_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.txt does not exist"):
        expand_inputs([f"@{tmp_path}/nope.txt"])


def test_an_s3_prefix_gives_the_videos_below_it(bucket):
    assert expand_inputs([f"{bucket}/v/"]) == [f"{bucket}/v/a.mp4", f"{bucket}/v/sub/b.MOV"]


def test_an_s3_glob_gives_its_matches(bucket):
    assert expand_inputs([f"{bucket}/v/a.mp4", f"{bucket}/*/*.m??"]) == [f"{bucket}/v/a.mp4", f"{bucket}/other/c.mkv"]


def test_an_s3_prefix_without_videos_names_it(bucket):
    with pytest.raises(ValueError, match=f"input prefix {bucket}/empty/ holds no video"):
        expand_inputs([f"{bucket}/empty/"])


def test_a_list_file_on_s3_resolves_against_its_folder(bucket, videos):
    fsspec.filesystem("s3").pipe_file(f"{bucket}/lists/todo.txt",
                                      f"../v/a.mp4\n# skipped\n../other/*.mkv\n{videos}/a.mp4\n".encode())
    assert expand_inputs([f"@{bucket}/lists/todo.txt"]) == [f"{bucket}/v/a.mp4", f"{bucket}/other/c.mkv",
                                                             f"{videos}/a.mp4"]
