//! The Explore tab's image view on the GPU: `shaders/image_view.wgsl` drawn inside egui through
//! an egui-wgpu paint callback. It colour-maps the generated image, or shows |G(z') - G(z)| as
//! a heat map. Where eframe runs without a wgpu renderer (tests, some remote sessions), the
//! caller uses the CPU path in `colormap` instead; [`install`] says which.

use crate::types::grid::Picture;
use eframe::egui;
use eframe::egui_wgpu::{self, wgpu};
use std::sync::Arc;

const SHADER: &str = include_str!("../../shaders/image_view.wgsl");

/// Pipeline objects shared by every frame, kept in egui-wgpu's callback resources.
struct Resources {
    pipeline: wgpu::RenderPipeline,
    layout: wgpu::BindGroupLayout,
    params: wgpu::Buffer,
    linear_out: u32,
    textures: Option<Textures>,
}

struct Textures {
    size: (usize, usize),
    current: wgpu::Texture,
    reference: wgpu::Texture,
    bind_group: wgpu::BindGroup,
}

/// Build the pipeline once; false when no wgpu renderer is running (use the CPU path).
pub fn install(render_state: Option<&egui_wgpu::RenderState>) -> bool {
    let Some(rs) = render_state else {
        return false;
    };
    let device = &rs.device;
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("latentlab image view"),
        source: wgpu::ShaderSource::Wgsl(SHADER.into()),
    });
    let texture_entry = |binding| wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::FRAGMENT,
        ty: wgpu::BindingType::Texture {
            sample_type: wgpu::TextureSampleType::Float { filterable: false },
            view_dimension: wgpu::TextureViewDimension::D2,
            multisampled: false,
        },
        count: None,
    };
    let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some("latentlab image view"),
        entries: &[
            texture_entry(0),
            texture_entry(1),
            wgpu::BindGroupLayoutEntry {
                binding: 2,
                visibility: wgpu::ShaderStages::FRAGMENT,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            },
        ],
    });
    let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some("latentlab image view"),
        bind_group_layouts: &[Some(&layout)],
        immediate_size: 0,
    });
    let pipeline = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
        label: Some("latentlab image view"),
        layout: Some(&pipeline_layout),
        vertex: wgpu::VertexState {
            module: &module,
            entry_point: Some("vs_main"),
            compilation_options: Default::default(),
            buffers: &[],
        },
        primitive: wgpu::PrimitiveState::default(),
        depth_stencil: None,
        multisample: wgpu::MultisampleState::default(),
        fragment: Some(wgpu::FragmentState {
            module: &module,
            entry_point: Some("fs_main"),
            compilation_options: Default::default(),
            targets: &[Some(rs.target_format.into())],
        }),
        multiview_mask: None,
        cache: None,
    });
    let params = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("latentlab image view params"),
        size: 16,
        usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    rs.renderer.write().callback_resources.insert(Resources {
        pipeline,
        layout,
        params,
        linear_out: u32::from(rs.target_format.is_srgb()),
        textures: None,
    });
    true
}

/// One frame's request: what to draw.
pub struct ImageViewCallback {
    pub current: Arc<Picture>,
    /// The image before the last change; `None` draws the colour-mapped image.
    pub reference: Option<Arc<Picture>>,
    pub map: u32,
}

impl Textures {
    fn new(
        device: &wgpu::Device,
        layout: &wgpu::BindGroupLayout,
        params: &wgpu::Buffer,
        w: usize,
        h: usize,
    ) -> Self {
        let make = |label| {
            device.create_texture(&wgpu::TextureDescriptor {
                label: Some(label),
                size: wgpu::Extent3d {
                    width: w as u32,
                    height: h as u32,
                    depth_or_array_layers: 1,
                },
                mip_level_count: 1,
                sample_count: 1,
                dimension: wgpu::TextureDimension::D2,
                format: wgpu::TextureFormat::Rgba8Unorm,
                usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
                view_formats: &[],
            })
        };
        let current = make("latentlab current image");
        let reference = make("latentlab reference image");
        let cv = current.create_view(&Default::default());
        let rv = reference.create_view(&Default::default());
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("latentlab image view"),
            layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: wgpu::BindingResource::TextureView(&cv),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: wgpu::BindingResource::TextureView(&rv),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: params.as_entire_binding(),
                },
            ],
        });
        Self {
            size: (w, h),
            current,
            reference,
            bind_group,
        }
    }
}

fn upload(queue: &wgpu::Queue, texture: &wgpu::Texture, img: &Picture) {
    queue.write_texture(
        wgpu::TexelCopyTextureInfo {
            texture,
            mip_level: 0,
            origin: wgpu::Origin3d::ZERO,
            aspect: wgpu::TextureAspect::All,
        },
        &img.to_rgba(),
        wgpu::TexelCopyBufferLayout {
            offset: 0,
            bytes_per_row: Some(4 * img.width as u32),
            rows_per_image: Some(img.height as u32),
        },
        wgpu::Extent3d {
            width: img.width as u32,
            height: img.height as u32,
            depth_or_array_layers: 1,
        },
    );
}

impl egui_wgpu::CallbackTrait for ImageViewCallback {
    fn prepare(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        _screen: &egui_wgpu::ScreenDescriptor,
        _encoder: &mut wgpu::CommandEncoder,
        resources: &mut egui_wgpu::CallbackResources,
    ) -> Vec<wgpu::CommandBuffer> {
        let Some(res) = resources.get_mut::<Resources>() else {
            return Vec::new();
        };
        let (w, h) = (self.current.width, self.current.height);
        if w == 0 || h == 0 {
            return Vec::new();
        }
        if res.textures.as_ref().is_none_or(|t| t.size != (w, h)) {
            res.textures = Some(Textures::new(device, &res.layout, &res.params, w, h));
        }
        if let Some(t) = &res.textures {
            upload(queue, &t.current, &self.current);
            let diff = self
                .reference
                .as_ref()
                .filter(|r| (r.width, r.height) == (w, h));
            if let Some(r) = diff {
                upload(queue, &t.reference, r);
            }
            let mode = u32::from(diff.is_some());
            let colour = u32::from(self.current.is_colour());
            let words = [mode, self.map, res.linear_out, colour];
            let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
            queue.write_buffer(&res.params, 0, &bytes);
        }
        Vec::new()
    }

    fn paint(
        &self,
        _info: egui::PaintCallbackInfo,
        render_pass: &mut wgpu::RenderPass<'static>,
        resources: &egui_wgpu::CallbackResources,
    ) {
        let Some(res) = resources.get::<Resources>() else {
            return;
        };
        let Some(t) = &res.textures else { return };
        render_pass.set_pipeline(&res.pipeline);
        render_pass.set_bind_group(0, &t.bind_group, &[]);
        render_pass.draw(0..6, 0..1);
    }
}

/// Add the paint callback for `rect`.
pub fn paint(ui: &mut egui::Ui, rect: egui::Rect, cb: ImageViewCallback) {
    ui.painter()
        .add(egui_wgpu::Callback::new_paint_callback(rect, cb));
}

#[cfg(test)]
mod tests {
    /// The shader must compile wherever the app runs; CI has no GPU, so validate it with naga
    /// (the compiler wgpu itself uses).
    #[test]
    fn the_wgsl_shader_parses_and_validates() {
        let module = naga::front::wgsl::parse_str(super::SHADER).expect("WGSL parses");
        naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::empty(),
        )
        .validate(&module)
        .expect("WGSL validates");
        let entry = |name: &str| module.entry_points.iter().any(|e| e.name == name);
        assert!(entry("vs_main") && entry("fs_main"));
    }
}
