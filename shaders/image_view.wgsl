// The Explore tab's image view: a generated image drawn nearest-neighbour, a grey one through a
// colour map and a colour one as it is (mode 0), or the heat map of the per-pixel colour
// distance between current and reference (mode 1), where reference is the image before the
// last slider move. Textures are RGBA; grey images repeat their level in R, G and B, so the
// distance over sqrt(3) is |a - b| for them. Anchors match src/ui/colormap.rs (a test checks).

struct Params {
    mode: u32,
    map: u32,
    // 1 when the render target is an sRGB format (the hardware then encodes: hand it linear).
    linear_out: u32,
    // 1 for a colour image (shown as it is), 0 for grey (through the map).
    colour: u32,
};

@group(0) @binding(0) var current: texture_2d<f32>;
@group(0) @binding(1) var reference: texture_2d<f32>;
@group(0) @binding(2) var<uniform> params: Params;

const DIFF_GAIN: f32 = 2.0;

struct VertexOut {
    @builtin(position) position: vec4<f32>,
    @location(0) uv: vec2<f32>,
};

// Two triangles covering the callback's viewport; no vertex buffer.
@vertex
fn vs_main(@builtin(vertex_index) i: u32) -> VertexOut {
    var corners = array<vec2<f32>, 6>(
        vec2<f32>(0.0, 0.0), vec2<f32>(1.0, 0.0), vec2<f32>(0.0, 1.0),
        vec2<f32>(0.0, 1.0), vec2<f32>(1.0, 0.0), vec2<f32>(1.0, 1.0),
    );
    let uv = corners[i];
    var out: VertexOut;
    out.position = vec4<f32>(uv.x * 2.0 - 1.0, 1.0 - uv.y * 2.0, 0.0, 1.0);
    out.uv = uv;
    return out;
}

fn anchor(map: u32, k: u32) -> vec3<f32> {
    var gray = array<vec3<f32>, 5>(
        vec3<f32>(0.0, 0.0, 0.0), vec3<f32>(64.0, 64.0, 64.0), vec3<f32>(128.0, 128.0, 128.0),
        vec3<f32>(191.0, 191.0, 191.0), vec3<f32>(255.0, 255.0, 255.0),
    );
    var viridis = array<vec3<f32>, 5>(
        vec3<f32>(68.0, 1.0, 84.0), vec3<f32>(59.0, 82.0, 139.0), vec3<f32>(33.0, 145.0, 140.0),
        vec3<f32>(94.0, 201.0, 98.0), vec3<f32>(253.0, 231.0, 37.0),
    );
    var magma = array<vec3<f32>, 5>(
        vec3<f32>(0.0, 0.0, 4.0), vec3<f32>(81.0, 18.0, 124.0), vec3<f32>(183.0, 55.0, 121.0),
        vec3<f32>(252.0, 137.0, 97.0), vec3<f32>(252.0, 253.0, 191.0),
    );
    var heat = array<vec3<f32>, 5>(
        vec3<f32>(0.0, 0.0, 0.0), vec3<f32>(128.0, 0.0, 0.0), vec3<f32>(255.0, 64.0, 0.0),
        vec3<f32>(255.0, 200.0, 0.0), vec3<f32>(255.0, 255.0, 255.0),
    );
    switch map {
        case 1u: { return viridis[k] / 255.0; }
        case 2u: { return magma[k] / 255.0; }
        case 3u: { return heat[k] / 255.0; }
        default: { return gray[k] / 255.0; }
    }
}

fn colorize(map: u32, v: f32) -> vec3<f32> {
    let x = clamp(v, 0.0, 1.0) * 4.0;
    let i = min(u32(floor(x)), 3u);
    let t = x - f32(i);
    return mix(anchor(map, i), anchor(map, i + 1u), t);
}

fn encode(c: vec3<f32>) -> vec4<f32> {
    if (params.linear_out == 1u) {
        return vec4<f32>(pow(c, vec3<f32>(2.2)), 1.0);
    }
    // egui's usual (non-sRGB) target takes gamma-space colours as they are.
    return vec4<f32>(c, 1.0);
}

@fragment
fn fs_main(in: VertexOut) -> @location(0) vec4<f32> {
    let dims = textureDimensions(current);
    let texel = min(vec2<u32>(in.uv * vec2<f32>(dims)), dims - vec2<u32>(1u, 1u));
    let a = textureLoad(current, texel, 0).rgb;
    if (params.mode == 1u) {
        let b = textureLoad(reference, texel, 0).rgb;
        return encode(colorize(3u, length(a - b) / sqrt(3.0) * DIFF_GAIN));
    }
    if (params.colour == 1u) {
        return encode(a);
    }
    return encode(colorize(params.map, a.r));
}
