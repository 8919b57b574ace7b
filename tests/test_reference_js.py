"""The gateway documentation's JavaScript samples (the openai npm package) work unchanged
against the emulator, but for the base URL and the key, as its Python and curl samples do.

They need Node.js and the ``openai`` npm package: the folder holding it is named by
``VIBEIMG_NODE_MODULES`` (.ci/run installs it there), else npm's global folder is
looked in. Without them these tests are skipped, saying why.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from pictures import alpha_mask, photo, save
from PIL import Image

from vibeimg.emulator import Emulator


def _node_modules() -> Path | None:
    """A node_modules folder holding the openai package, or None."""
    if not shutil.which("node"):
        return None
    candidates = [os.environ.get("VIBEIMG_NODE_MODULES", "")]
    if shutil.which("npm"):
        found = subprocess.run(["npm", "root", "-g"], capture_output=True, text=True,
                               timeout=60, check=False)
        candidates.append(found.stdout.strip())
    for candidate in filter(None, candidates):
        if (Path(candidate) / "openai" / "package.json").is_file():
            return Path(candidate)
    return None


NODE_MODULES = _node_modules()
pytestmark = pytest.mark.skipif(
    NODE_MODULES is None,
    reason="needs node and the openai npm package (set VIBEIMG_NODE_MODULES to its "
    "node_modules folder, or npm install -g openai)")

# Each sample as the gateway's documentation prints it, but for its two placeholders.
GENERATE = """\
import OpenAI from "openai";
import fs from "fs";
const openai = new OpenAI({
baseURL: "https://www.vibeapi.cn/v1",
apiKey: "YOUR_API_KEY",
});
const prompt = `
A children's book drawing of a veterinarian using a stethoscope to
listen to the heartbeat of a baby otter.
`;
const result = await openai.images.generate({
model: "gpt-image-2",
prompt,
});
// 保存图片到文件
const image_base64 = result.data[0].b64_json;
const image_bytes = Buffer.from(image_base64, "base64");
fs.writeFileSync("otter.png", image_bytes);
"""

EDIT_FOUR_IMAGES = """\
import fs from "fs";
import OpenAI, { toFile } from "openai";
const client = new OpenAI({
baseURL: "https://www.vibeapi.cn/v1",
apiKey: "YOUR_API_KEY",
});
const prompt = `
Generate a photorealistic image of a gift basket on a white background
labeled 'Relax & Unwind' with a ribbon and handwriting-like font,
containing all the items in the reference pictures.
`;
const imageFiles = [
"bath-bomb.png",
"body-lotion.png",
"incense-kit.png",
"soap.png",
];
const images = await Promise.all(
imageFiles.map(async (file) =>
await toFile(fs.createReadStream(file), null, {
type: "image/png",
})
),
);
const response = await client.images.edit({
model: "gpt-image-2",
image: images,
prompt,
});
// 保存图片到文件
const image_base64 = response.data[0].b64_json;
const image_bytes = Buffer.from(image_base64, "base64");
fs.writeFileSync("basket.png", image_bytes);
"""

EDIT_WITH_MASK = """\
import fs from "fs";
import OpenAI, { toFile } from "openai";
const client = new OpenAI({
baseURL: "https://www.vibeapi.cn/v1",
apiKey: "YOUR_API_KEY",
});
const rsp = await client.images.edit({
model: "gpt-image-2",
image: await toFile(fs.createReadStream("sunlit_lounge.png"), null, {
type: "image/png",
}),
mask: await toFile(fs.createReadStream("mask.png"), null, {
type: "image/png",
}),
prompt: "A sunlit indoor lounge area with a pool containing a flamingo",
});
// 保存图片到文件
const image_base64 = rsp.data[0].b64_json;
const image_bytes = Buffer.from(image_base64, "base64");
fs.writeFileSync("lounge.png", image_bytes);
"""

RESPONSES_STREAM = """\
import OpenAI from "openai";
import fs from "fs";
const openai = new OpenAI({
baseURL: "https://www.vibeapi.cn/v1",
apiKey: "YOUR_API_KEY",
});
const stream = await openai.responses.create({
model: "gpt-5.5",
instructions: "You are a helpful image generation assistant.",
input: [
{
role: "user",
content: [
{
type: "input_text",
text: "Generate an image of a cat hugging an otter with an orange scarf",
},
],
},
],
stream: true,
tools: [{ type: "image_generation" }],
});
for await (const event of stream) {
if (event.type === "response.image_generation_call.partial_image") {
const imageBase64 = event.partial_image_b64;
const imageBuffer = Buffer.from(imageBase64, "base64");
fs.writeFileSync("output.png", imageBuffer);
}
}
"""

RESPONSES_THREE_IMAGES = """\
import OpenAI from "openai";
import fs from "fs";
const openai = new OpenAI({
baseURL: "https://www.vibeapi.cn/v1",
apiKey: "YOUR_API_KEY",
});
const stream = await openai.responses.create({
model: "gpt-5.5",
instructions: "You are a helpful image generation assistant. Generate ALL images the user requests.",
input: [
{
role: "user",
content: [
{
type: "input_text",
text: "Generate 3 different images: 1) a red circle 2) a blue square 3) a green triangle",
},
],
},
],
stream: true,
tools: [{ type: "image_generation", quality: "low", size: "1024x1024" }],
});
let imgIndex = 0;
for await (const event of stream) {
if (event.type === "response.image_generation_call.partial_image") {
const imageBuffer = Buffer.from(event.partial_image_b64, "base64");
fs.writeFileSync(`output_${imgIndex}.png`, imageBuffer);
imgIndex++;
}
}
console.log(`共生成 ${imgIndex} 张图片`);
"""


def run_sample(sample: str, emulator: Emulator, folder: Path) -> str:
    """Run ``sample`` with node in ``folder``, pointed at the emulator; its stdout."""
    assert NODE_MODULES is not None
    script = (sample.replace('"https://www.vibeapi.cn/v1"', json.dumps(emulator.base_url))
              .replace('"YOUR_API_KEY"', '"k"'))
    (folder / "sample.mjs").write_text(script, encoding="utf-8")
    # An ES module finds its packages in a node_modules folder beside it or above it.
    (folder / "node_modules").symlink_to(NODE_MODULES, target_is_directory=True)
    done = subprocess.run(["node", "sample.mjs"], cwd=folder, capture_output=True, text=True,
                          timeout=120, check=False,
                          env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    assert done.returncode == 0, done.stderr
    return done.stdout


def _png(path: Path) -> tuple[int, int]:
    with Image.open(path) as image:
        assert image.format == "PNG"
        return image.size


def test_generate_sample(emulator: Emulator, tmp_path: Path) -> None:
    """images.generate: the image arrives as base64 and is saved as otter.png."""
    run_sample(GENERATE, emulator, tmp_path)
    assert _png(tmp_path / "otter.png") == (1024, 1024)
    sent = json.loads(emulator.api_requests()[-1].body)
    assert sent["model"] == "gpt-image-2" and "baby otter" in sent["prompt"]


def test_edit_sample_with_four_images(emulator: Emulator, tmp_path: Path) -> None:
    """images.edit with four toFile() streams: all four arrive, in order, as sent."""
    names = ["bath-bomb.png", "body-lotion.png", "incense-kit.png", "soap.png"]
    for i, name in enumerate(names):
        save(tmp_path / name, photo((96, 96), (40 * i, 120, 200)))
    run_sample(EDIT_FOUR_IMAGES, emulator, tmp_path)
    assert _png(tmp_path / "basket.png") == (1024, 1024)
    parts = [*emulator.api_requests()[-1].files.get("image[]", []),
             *emulator.api_requests()[-1].files.get("image", [])]
    assert [part[2] for part in parts] == [(tmp_path / n).read_bytes() for n in names]


def test_edit_sample_with_a_mask(emulator: Emulator, tmp_path: Path) -> None:
    """images.edit with an image and its alpha mask: the mask arrives with the image."""
    save(tmp_path / "sunlit_lounge.png", photo((128, 96), (230, 200, 90)))
    save(tmp_path / "mask.png", alpha_mask((128, 96), hole=(0, 48, 63, 95)))
    run_sample(EDIT_WITH_MASK, emulator, tmp_path)
    assert _png(tmp_path / "lounge.png") == (1536, 1024)  # auto: the image's landscape
    sent = emulator.api_requests()[-1]
    assert sent.files["mask"][0][2] == (tmp_path / "mask.png").read_bytes()


def test_responses_stream_sample(emulator: Emulator, tmp_path: Path) -> None:
    """responses.create streamed: the partial image event holds the whole image."""
    run_sample(RESPONSES_STREAM, emulator, tmp_path)
    assert _png(tmp_path / "output.png") == (1024, 1024)


def test_responses_sample_with_three_images(emulator: Emulator, tmp_path: Path) -> None:
    """'Generate 3 different images' streams three images, each saved in turn."""
    out = run_sample(RESPONSES_THREE_IMAGES, emulator, tmp_path)
    assert out.strip() == "共生成 3 张图片"
    assert [_png(tmp_path / f"output_{i}.png") for i in range(3)] == [(1024, 1024)] * 3
