//! What unetseg reads of an OME-TIFF's OME-XML (the first page's ImageDescription):
//! the first image's size, planes, channels, pixel size, and the TIFF pages (IFDs)
//! that hold its planes.
//!
//! The XML is scanned element by element (names without their namespace prefix);
//! only the elements and attributes below are read, everything else is skipped.

use super::pixel_size::{LengthUnit, PixelSize};

/// The first `<Image>` of an OME-XML document, as far as segmentation needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct OmeImage {
    /// `SizeX` x `SizeY` of its `<Pixels>`.
    pub size: (u32, u32),
    /// The TIFF pages (indices in the file's chain of IFDs) of its planes, in order
    /// and without repeats: those its `<TiffData>` elements name, or its first
    /// `SizeZ * SizeT` pages when it has none.
    pub pages: Vec<usize>,
    /// `PhysicalSizeX` x `PhysicalSizeY` in their units (micrometres by default);
    /// `None` when either is missing, not a positive number, or in a unit that is
    /// not a metric length ([`LengthUnit::from_symbol`]).
    pub pixel_size: Option<PixelSize>,
    /// How many `<Image>` elements the document has (series; only the first is read).
    pub images: usize,
}

/// The OME-XML image of a TIFF's first ImageDescription: `Ok(None)` when the
/// description is not OME-XML (no `<OME` root element), an error when it is but
/// describes something unetseg cannot segment (several channels) or lacks what it
/// needs (a `<Pixels>` element with its sizes).
pub fn read_ome(description: &str) -> Result<Option<OmeImage>, String> {
    if !description.trim_start().starts_with('<') {
        return Ok(None);
    }
    let mut scanner = Scanner { text: description, at: 0 };
    if !matches!(scanner.next_tag(), Ok(Some(Tag::Start { name: "OME", .. }))) {
        return Ok(None);
    }
    let mut images = 0;
    let mut in_first_image = false;
    let mut pixels: Option<Vec<(String, String)>> = None;
    let mut channels = 0usize;
    let mut channel_samples = 1usize;
    let mut tiff_data: Vec<(Option<usize>, Option<usize>)> = Vec::new();
    while let Some(tag) = scanner.next_tag()? {
        match tag {
            Tag::Start { name, attributes } => match name {
                "Image" => {
                    images += 1;
                    in_first_image = images == 1;
                }
                "Pixels" if in_first_image && pixels.is_none() => pixels = Some(attributes),
                "Channel" if in_first_image => {
                    channels += 1;
                    channel_samples = count(&attributes, "SamplesPerPixel")?.unwrap_or(1);
                }
                "TiffData" if in_first_image => {
                    tiff_data.push((count(&attributes, "IFD")?, count(&attributes, "PlaneCount")?))
                }
                _ => {}
            },
            Tag::End { name } => {
                if name == "Image" {
                    in_first_image = false;
                }
            }
        }
    }
    let pixels = pixels.ok_or("its OME-XML has no <Pixels> element in its first <Image>")?;
    let required =
        |key: &str| count(&pixels, key)?.ok_or_else(|| format!("the OME-XML's <Pixels> has no {key} attribute"));
    let (size_x, size_y) = (required("SizeX")?, required("SizeY")?);
    let size_c = count(&pixels, "SizeC")?.unwrap_or(1);
    let planes = count(&pixels, "SizeZ")?.unwrap_or(1) * count(&pixels, "SizeT")?.unwrap_or(1);
    // One <Channel> of SamplesPerPixel 3 is an RGB image (SizeC 3), not three channels.
    let colour = channels == 1 && channel_samples == size_c;
    if channels > 1 || (size_c > 1 && !colour) {
        return Err(format!(
            "the OME image has {} channels (SizeC {size_c}); unetseg segments single-channel images: save the \
             channel to segment as a file of its own (in Fiji: Image > Color > Split Channels)",
            channels.max(size_c)
        ));
    }
    let pages = tiff_pages(&tiff_data, planes);
    let size = (to_u32(size_x, "SizeX")?, to_u32(size_y, "SizeY")?);
    Ok(Some(OmeImage { size, pages, pixel_size: pixel_size(&pixels), images }))
}

/// The pages of `planes` planes as `<TiffData IFD PlaneCount>` entries give them
/// (IFD 0 and all the planes when absent, one plane when only `IFD` is given).
fn tiff_pages(tiff_data: &[(Option<usize>, Option<usize>)], planes: usize) -> Vec<usize> {
    if tiff_data.is_empty() {
        return (0..planes).collect();
    }
    let mut pages: Vec<usize> = Vec::new();
    for &(ifd, plane_count) in tiff_data {
        let count = plane_count.unwrap_or(if ifd.is_some() { 1 } else { planes });
        let first = ifd.unwrap_or(0);
        for page in first..first.saturating_add(count) {
            if !pages.contains(&page) {
                pages.push(page);
            }
        }
    }
    pages
}

/// `PhysicalSizeX` x `PhysicalSizeY` of `<Pixels>`, when both are usable.
fn pixel_size(pixels: &[(String, String)]) -> Option<PixelSize> {
    let length = |key: &str| -> Option<(f64, LengthUnit)> {
        let value = attribute(pixels, key)?.trim().parse::<f64>().ok()?;
        let unit =
            attribute(pixels, &format!("{key}Unit")).map_or(Some(LengthUnit::Micrometre), LengthUnit::from_symbol)?;
        Some((value, unit))
    };
    let ((width, width_unit), (height, height_unit)) = (length("PhysicalSizeX")?, length("PhysicalSizeY")?);
    PixelSize::with_units(width, width_unit, height, height_unit).ok()
}

/// The value of attribute `key`.
fn attribute<'a>(attributes: &'a [(String, String)], key: &str) -> Option<&'a str> {
    attributes.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Attribute `key` as a non-negative integer; an error when present but not one.
fn count(attributes: &[(String, String)], key: &str) -> Result<Option<usize>, String> {
    attribute(attributes, key)
        .map(|v| v.trim().parse::<usize>().map_err(|_| format!("the OME-XML's {key}=\"{v}\" is not a whole number")))
        .transpose()
}

/// `value` as a `u32`, or an error naming the attribute.
fn to_u32(value: usize, key: &str) -> Result<u32, String> {
    u32::try_from(value).map_err(|_| format!("the OME-XML's {key} {value} is too large"))
}

/// One start or end tag (an empty-element tag is a start tag).
#[derive(Debug, PartialEq)]
enum Tag<'a> {
    /// `<name a="1">` or `<name a="1"/>`: the local name and the attributes with
    /// their local names and decoded values.
    Start { name: &'a str, attributes: Vec<(String, String)> },
    /// `</name>`.
    End { name: &'a str },
}

/// Walks the tags of an XML text, skipping text, comments, CDATA, processing
/// instructions and declarations.
struct Scanner<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Scanner<'a> {
    /// The next tag; `None` at the end of the text; an error for an unterminated one.
    fn next_tag(&mut self) -> Result<Option<Tag<'a>>, String> {
        loop {
            let Some(offset) = self.text[self.at..].find('<') else { return Ok(None) };
            self.at += offset;
            let rest = &self.text[self.at..];
            let skip_to = |end: &str| rest.find(end).map(|i| i + end.len());
            let skipped = if rest.starts_with("<!--") {
                skip_to("-->")
            } else if rest.starts_with("<![CDATA[") {
                skip_to("]]>")
            } else if rest.starts_with("<?") {
                skip_to("?>")
            } else if rest.starts_with("<!") {
                skip_to(">")
            } else {
                return self.tag().map(Some);
            };
            self.at += skipped.ok_or("its OME-XML ends inside a comment or declaration")?;
        }
    }

    /// The tag at `self.at` (which is a `<`).
    fn tag(&mut self) -> Result<Tag<'a>, String> {
        let unterminated = || "its OME-XML ends inside a tag".to_string();
        let text = self.text;
        let mut i = self.at + 1;
        let end_tag = text[i..].starts_with('/');
        if end_tag {
            i += 1;
        }
        let name_end =
            text[i..].find(|c: char| c.is_whitespace() || c == '>' || c == '/').ok_or_else(unterminated)? + i;
        let name = local(&text[i..name_end]);
        i = name_end;
        let mut attributes = Vec::new();
        loop {
            i += text[i..].len() - text[i..].trim_start().len();
            let rest = &text[i..];
            if rest.starts_with("/>") || rest.starts_with('>') {
                self.at = i + if rest.starts_with('>') { 1 } else { 2 };
                break;
            }
            let eq = rest.find('=').ok_or_else(unterminated)?;
            let key = local(rest[..eq].trim());
            let after = rest[eq + 1..].trim_start();
            let quote = after.chars().next().filter(|&c| c == '"' || c == '\'').ok_or_else(unterminated)?;
            let value_start = i + (rest.len() - after.len()) + 1;
            let value_len = text[value_start..].find(quote).ok_or_else(unterminated)?;
            attributes.push((key.to_string(), unescape(&text[value_start..value_start + value_len])));
            i = value_start + value_len + 1;
        }
        Ok(if end_tag { Tag::End { name } } else { Tag::Start { name, attributes } })
    }
}

/// A name without its namespace prefix (`ome:Pixels` -> `Pixels`).
fn local(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

/// An attribute value with its character and entity references replaced.
fn unescape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let Some(semi) = rest.find(';') else { break };
        let entity = &rest[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .map(|hex| u32::from_str_radix(hex, 16))
                .or_else(|| entity.strip_prefix('#').map(str::parse::<u32>))
                .and_then(|code| code.ok())
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ome(pixels: &str, inner: &str) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- Warning: this comment is an OME-XML metadata block -->\
             <OME xmlns=\"http://www.openmicroscopy.org/Schemas/OME/2016-06\"><Image ID=\"Image:0\" Name=\"em\">\
             <Pixels ID=\"Pixels:0\" DimensionOrder=\"XYCZT\" Type=\"uint16\" {pixels}>{inner}</Pixels></Image></OME>"
        )
    }

    #[test]
    fn sizes_pages_and_the_pixel_size_of_the_first_image() {
        let xml = ome(
            "SizeX=\"40\" SizeY=\"24\" SizeC=\"1\" SizeZ=\"3\" SizeT=\"1\" PhysicalSizeX=\"4.0\" \
             PhysicalSizeXUnit=\"nm\" PhysicalSizeY=\"0.005\" PhysicalSizeYUnit=\"&#181;m\"",
            "<Channel ID=\"Channel:0:0\" SamplesPerPixel=\"1\"/><TiffData IFD=\"0\" PlaneCount=\"3\"/>",
        );
        let image = read_ome(&xml).unwrap().unwrap();
        assert_eq!((image.size, image.pages.clone(), image.images), ((40, 24), vec![0, 1, 2], 1));
        let size = image.pixel_size.unwrap();
        assert_eq!((size.width(), size.unit()), (4.0, LengthUnit::Nanometre));
        assert!((size.height() - 5.0).abs() < 1e-9);
    }

    #[test]
    fn micrometres_are_the_default_unit_and_prefixes_are_ignored() {
        let xml = "<ome:OME xmlns:ome=\"x\"><ome:Image><ome:Pixels SizeX='8' SizeY='6' PhysicalSizeX='0.5' \
                   PhysicalSizeY='0.5'/></ome:Image><ome:Image><ome:Pixels SizeX='1' SizeY='1'/></ome:Image></ome:OME>";
        let image = read_ome(xml).unwrap().unwrap();
        assert_eq!((image.size, image.pages.clone(), image.images), ((8, 6), vec![0], 2));
        assert_eq!(image.pixel_size, Some(PixelSize::new(0.5, 0.5, LengthUnit::Micrometre).unwrap()));
    }

    #[test]
    fn a_pixel_size_that_is_missing_or_not_a_length_is_unknown() {
        for attributes in [
            "SizeX=\"8\" SizeY=\"6\"",
            "SizeX=\"8\" SizeY=\"6\" PhysicalSizeX=\"1\"",
            "SizeX=\"8\" SizeY=\"6\" PhysicalSizeX=\"1\" PhysicalSizeY=\"1\" PhysicalSizeYUnit=\"pixel\"",
            "SizeX=\"8\" SizeY=\"6\" PhysicalSizeX=\"0\" PhysicalSizeY=\"1\"",
        ] {
            assert_eq!(read_ome(&ome(attributes, "")).unwrap().unwrap().pixel_size, None, "{attributes}");
        }
    }

    #[test]
    fn tiff_data_names_the_pages_of_the_planes() {
        let one_each = "<TiffData IFD=\"2\" FirstZ=\"0\"/><TiffData IFD=\"3\" FirstZ=\"1\"/>";
        let image = read_ome(&ome("SizeX=\"8\" SizeY=\"6\" SizeZ=\"2\"", one_each)).unwrap().unwrap();
        assert_eq!(image.pages, vec![2, 3]);
        let bare = read_ome(&ome("SizeX=\"8\" SizeY=\"6\" SizeZ=\"2\" SizeT=\"2\"", "<TiffData/>")).unwrap().unwrap();
        assert_eq!(bare.pages, vec![0, 1, 2, 3]);
        let none = read_ome(&ome("SizeX=\"8\" SizeY=\"6\" SizeT=\"2\"", "")).unwrap().unwrap();
        assert_eq!(none.pages, vec![0, 1]);
    }

    #[test]
    fn several_channels_are_refused_and_one_rgb_channel_is_not() {
        let two = ome("SizeX=\"8\" SizeY=\"6\" SizeC=\"2\"", "<Channel/><Channel/>");
        let message = read_ome(&two).unwrap_err();
        assert!(message.contains("2 channels (SizeC 2)") && message.contains("single-channel"), "{message}");
        assert!(read_ome(&ome("SizeX=\"8\" SizeY=\"6\" SizeC=\"3\"", "")).is_err());
        let rgb = ome("SizeX=\"8\" SizeY=\"6\" SizeC=\"3\"", "<Channel SamplesPerPixel=\"3\"/>");
        assert!(read_ome(&rgb).unwrap().is_some());
    }

    #[test]
    fn other_descriptions_are_not_ome() {
        for text in ["ImageJ=1.54f\nimages=3\nslices=3\n", "", "<svg></svg>", "a < b"] {
            assert_eq!(read_ome(text), Ok(None), "{text:?}");
        }
    }

    #[test]
    fn broken_ome_xml_is_an_error() {
        assert!(read_ome("<OME><Image><Pixels SizeX=\"8\"").unwrap_err().contains("ends inside a tag"));
        assert!(read_ome("<OME><Image></Image></OME>").unwrap_err().contains("no <Pixels>"));
        assert!(read_ome("<OME><Image><Pixels SizeX=\"8\"/></Image></OME>").unwrap_err().contains("SizeY"));
        assert!(read_ome(&ome("SizeX=\"wide\" SizeY=\"6\"", "")).unwrap_err().contains("SizeX=\"wide\""));
    }

    #[test]
    fn entities_are_decoded() {
        assert_eq!(unescape("a&amp;b &lt;&#x3bc;m&gt; &#181; &bogus; &"), "a&b <\u{3bc}m> \u{b5} &bogus; &");
    }
}
