//! The paper's figures: probes in latent space coloured by the classifier's probability
//! (Figure 3) and by assigned cluster with the centroids marked (Figure 4), plus the Table-1
//! chart. Drawn with plotters and an embedded font (DejaVu Sans), so no system font
//! configuration is needed; scatter plots are rasters (PNG), the chart is SVG.

use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

use super::png::Rgb;
use crate::error::{Error, Result};

static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
static REGISTERED: OnceLock<bool> = OnceLock::new();

fn ensure_font() -> Result<()> {
    let ok =
        *REGISTERED.get_or_init(|| register_font("sans-serif", FontStyle::Normal, FONT).is_ok());
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(
            "the embedded plot font does not parse".into(),
        ))
    }
}

fn plot_err<E: std::fmt::Debug>(e: E) -> Error {
    Error::Invalid(format!("drawing a plot: {e:?}"))
}

/// Viridis colour map at `t` in `[0, 1]`.
pub fn viridis(t: f64) -> RGBColor {
    const STOPS: [(f64, [u8; 3]); 5] = [
        (0.0, [68, 1, 84]),
        (0.25, [59, 82, 139]),
        (0.5, [33, 145, 140]),
        (0.75, [94, 201, 98]),
        (1.0, [253, 231, 37]),
    ];
    let t = t.clamp(0.0, 1.0);
    let i = STOPS.iter().rposition(|s| s.0 <= t).unwrap_or(0).min(3);
    let (t0, c0) = STOPS[i];
    let (t1, c1) = STOPS[i + 1];
    let f = (t - t0) / (t1 - t0);
    let mix = |a: u8, b: u8| (a as f64 + f * (b as f64 - a as f64)).round() as u8;
    RGBColor(mix(c0[0], c1[0]), mix(c0[1], c1[1]), mix(c0[2], c1[2]))
}

/// A categorical colour for cluster `j`.
pub fn cluster_color(j: usize) -> RGBColor {
    const C: [[u8; 3]; 10] = [
        [31, 119, 180],
        [255, 127, 14],
        [44, 160, 44],
        [214, 39, 40],
        [148, 103, 189],
        [140, 86, 75],
        [227, 119, 194],
        [127, 127, 127],
        [188, 189, 34],
        [23, 190, 207],
    ];
    let c = C[j % C.len()];
    RGBColor(c[0], c[1], c[2])
}

fn bounds(points: &[[f64; 2]], extra: &[[f64; 2]]) -> (std::ops::Range<f64>, std::ops::Range<f64>) {
    let mut lo = [f64::INFINITY; 2];
    let mut hi = [f64::NEG_INFINITY; 2];
    for p in points.iter().chain(extra) {
        for k in 0..2 {
            if p[k].is_finite() {
                lo[k] = lo[k].min(p[k]);
                hi[k] = hi[k].max(p[k]);
            }
        }
    }
    let range = |k: usize| {
        if !lo[k].is_finite() {
            return -1.0..1.0;
        }
        let pad = ((hi[k] - lo[k]) * 0.05).max(1e-3);
        (lo[k] - pad)..(hi[k] + pad)
    };
    (range(0), range(1))
}

/// What a scatter plot shows.
pub struct Scatter<'a> {
    pub title: &'a str,
    pub axis_labels: &'a [String; 2],
    pub points: &'a [[f64; 2]],
}

const W: u32 = 640;
const H: u32 = 480;

fn render(draw: impl FnOnce(DrawingArea<BitMapBackend, Shift>) -> Result<()>) -> Result<Rgb> {
    ensure_font()?;
    let mut buf = vec![255u8; (W * H * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (W, H)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        draw(root.clone())?;
        root.present().map_err(plot_err)?;
    }
    Ok(Rgb {
        width: W as usize,
        height: H as usize,
        pixels: buf,
    })
}

type ScatterChart<'a, 'b> =
    ChartContext<'a, BitMapBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Titled, labelled axes fitted to the points (and `extra` points such as centroids).
fn scatter_axes<'a, 'b>(
    area: &'a DrawingArea<BitMapBackend<'b>, Shift>,
    s: &Scatter,
    extra: &[[f64; 2]],
) -> Result<ScatterChart<'a, 'b>> {
    let (xr, yr) = bounds(s.points, extra);
    let mut chart = ChartBuilder::on(area)
        .caption(s.title, ("sans-serif", 17))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(55)
        .build_cartesian_2d(xr, yr)
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc(s.axis_labels[0].as_str())
        .y_desc(s.axis_labels[1].as_str())
        .label_style(("sans-serif", 12))
        .draw()
        .map_err(plot_err)?;
    Ok(chart)
}

/// Figure 3: probes coloured by a probability, with a colour bar labelled `legend`.
pub fn probability_scatter(s: &Scatter, values: &[f32], legend: &str) -> Result<Rgb> {
    render(|root| {
        let (main, bar) = root.split_horizontally(W - 110);
        let mut chart = scatter_axes(&main, s, &[])?;
        chart
            .draw_series(
                s.points
                    .iter()
                    .zip(values)
                    .map(|(p, &v)| Circle::new((p[0], p[1]), 2, viridis(v as f64).filled())),
            )
            .map_err(plot_err)?;
        // Colour bar: 0 at the bottom, 1 at the top.
        let (top, bottom, x0, x1) = (50i32, H as i32 - 60, 20i32, 45i32);
        for y in top..bottom {
            let t = (bottom - y) as f64 / (bottom - top) as f64;
            bar.draw(&Rectangle::new([(x0, y), (x1, y + 1)], viridis(t).filled()))
                .map_err(plot_err)?;
        }
        bar.draw(&Rectangle::new(
            [(x0, top), (x1, bottom)],
            BLACK.stroke_width(1),
        ))
        .map_err(plot_err)?;
        let font = ("sans-serif", 12).into_font();
        for (t, label) in [(1.0, "1.0"), (0.5, "0.5"), (0.0, "0.0")] {
            let y = bottom - ((bottom - top) as f64 * t) as i32;
            bar.draw(&Text::new(label, (x1 + 4, y - 6), font.clone()))
                .map_err(plot_err)?;
        }
        bar.draw(&Text::new(legend.to_string(), (5, top - 30), font.clone()))
            .map_err(plot_err)?;
        Ok(())
    })
}

/// Figure 4: probes coloured by assigned cluster, centroids marked with crosses.
pub fn cluster_scatter(
    s: &Scatter,
    assignment: &[usize],
    centroids: &[[f64; 2]],
    cluster_names: &[String],
) -> Result<Rgb> {
    render(|root| {
        let mut chart = scatter_axes(&root, s, centroids)?;
        chart
            .draw_series(
                s.points.iter().zip(assignment).map(|(p, &j)| {
                    Circle::new((p[0], p[1]), 2, cluster_color(j).mix(0.6).filled())
                }),
            )
            .map_err(plot_err)?;
        for (j, (c, name)) in centroids.iter().zip(cluster_names).enumerate() {
            let color = cluster_color(j);
            chart
                .draw_series(std::iter::once(Cross::new(
                    (c[0], c[1]),
                    13,
                    WHITE.stroke_width(9),
                )))
                .map_err(plot_err)?;
            chart
                .draw_series(std::iter::once(Cross::new(
                    (c[0], c[1]),
                    12,
                    BLACK.stroke_width(5),
                )))
                .map_err(plot_err)?
                .label(name.to_string())
                .legend(move |(x, y)| Circle::new((x, y), 5, color.filled()));
            chart
                .draw_series(std::iter::once(Circle::new(
                    (c[0], c[1]),
                    5,
                    color.filled(),
                )))
                .map_err(plot_err)?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 12))
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(plot_err)?;
        Ok(())
    })
}

/// One series of the ACP chart: per latent dim, mean and standard deviation.
pub struct AcpSeries<'a> {
    pub name: &'a str,
    pub color: RGBColor,
    pub points: Vec<(usize, f64, f64)>,
}

/// Table 1 as a chart: ACP per latent dimension with std error bars, one series per method,
/// chance level as a dashed line. Returns SVG text.
pub fn acp_chart(dims: &[usize], series: &[AcpSeries], chance: f64) -> Result<String> {
    ensure_font()?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (640, 400)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        let n = dims.len();
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "Average cluster probability by latent dimension",
                ("sans-serif", 17),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(55)
            .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), 0.0f64..1.0)
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_labels(n)
            .x_label_formatter(&|x| {
                let i = x.round();
                if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < n {
                    dims[i as usize].to_string()
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|y| format!("{:.0}%", 100.0 * y))
            .x_desc("VAE latent dimension")
            .y_desc("ACP (mean ± std over trials)")
            .label_style(("sans-serif", 12))
            .draw()
            .map_err(plot_err)?;
        chart
            .draw_series(DashedLineSeries::new(
                vec![(-0.5, chance), (n as f64 - 0.5, chance)],
                6,
                4,
                BLACK.mix(0.5).stroke_width(1),
            ))
            .map_err(plot_err)?
            .label(format!("chance ({:.0}%)", 100.0 * chance))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLACK.mix(0.5)));
        let m = series.len().max(1) as f64;
        for (si, s) in series.iter().enumerate() {
            let offset = (si as f64 - (m - 1.0) / 2.0) * 0.18;
            let color = s.color;
            let pts: Vec<(f64, f64, f64)> = s
                .points
                .iter()
                .filter_map(|&(d, mean, std)| {
                    dims.iter()
                        .position(|&x| x == d)
                        .map(|i| (i as f64 + offset, mean, std))
                })
                .collect();
            chart
                .draw_series(pts.iter().map(|&(x, mean, std)| {
                    ErrorBar::new_vertical(
                        x,
                        (mean - std).max(0.0),
                        mean,
                        (mean + std).min(1.0),
                        color.stroke_width(2),
                        10,
                    )
                }))
                .map_err(plot_err)?;
            chart
                .draw_series(
                    pts.iter()
                        .map(|&(x, mean, _)| Circle::new((x, mean), 5, color.filled())),
                )
                .map_err(plot_err)?
                .label(s.name)
                .legend(move |(x, y)| Circle::new((x + 8, y), 5, color.filled()));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 12))
            .position(SeriesLabelPosition::LowerRight)
            .draw()
            .map_err(plot_err)?;
        root.present().map_err(plot_err)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viridis_runs_from_purple_to_yellow() {
        assert_eq!(viridis(0.0), RGBColor(68, 1, 84));
        assert_eq!(viridis(1.0), RGBColor(253, 231, 37));
        assert_eq!(viridis(2.0), viridis(1.0));
    }

    #[test]
    fn scatter_plots_draw_points_and_text() {
        let pts: Vec<[f64; 2]> = (0..50).map(|i| [i as f64, (i * i) as f64]).collect();
        let vals: Vec<f32> = (0..50).map(|i| i as f32 / 49.0).collect();
        let labels = ["z1".to_string(), "z2".to_string()];
        let s = Scatter {
            title: "test",
            axis_labels: &labels,
            points: &pts,
        };
        let img = probability_scatter(&s, &vals, "p(1)").unwrap();
        // Some pixels are the top of the colour map (points and colour bar).
        assert!(img.pixels.chunks(3).any(|p| p == [253, 231, 37]));
        let img = cluster_scatter(&s, &vec![0; 50], &[[10.0, 100.0]], &["0".into()]).unwrap();
        assert!(img.pixels.chunks(3).any(|p| p == [31, 119, 180]));
    }

    #[test]
    fn acp_chart_is_svg_with_labels() {
        let svg = acp_chart(
            &[2, 3],
            &[AcpSeries {
                name: "paper",
                color: RGBColor(0, 0, 0),
                points: vec![(2, 0.527, 0.147), (3, 0.688, 0.0546)],
            }],
            0.5,
        )
        .unwrap();
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("paper") && svg.contains("latent dimension"));
    }
}
