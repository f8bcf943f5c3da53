// edgecc_gather: part of the edgecc stream library, copied by edgecc into streaming designs; every design that uses
// it gets the same text.
`timescale 1ns/1ps
`default_nettype none

// COUNT tokens of W bits side by side (the first lowest): the last token writes the vector into the output register.
module edgecc_gather #(parameter W = 8, parameter COUNT = 2, parameter CW = 1) (
    input  wire clk,
    input  wire rst,
    input  wire in_valid,
    output wire in_ready,
    input  wire [W-1:0] in_data,
    output wire out_valid,
    input  wire out_ready,
    output wire [W*COUNT-1:0] out_data
);
    /* verilator lint_off WIDTHTRUNC */
    localparam [CW-1:0] LAST = COUNT - 1;
    /* verilator lint_on WIDTHTRUNC */
    reg [CW-1:0] k;
    reg out_v;
    reg [W*COUNT-1:0] out_q;
    wire last = k == LAST;
    wire room = ~out_v | out_ready;
    wire fire = in_valid & in_ready;
    assign in_ready = ~last | room;
    assign out_valid = out_v;
    assign out_data = out_q;
    always @(posedge clk) begin
        if (rst) begin
            k <= {CW{1'b0}};
            out_v <= 1'b0;
        end else begin
            if (fire) k <= last ? {CW{1'b0}} : k + {{(CW-1){1'b0}}, 1'b1};
            if (fire & last) out_v <= 1'b1;
            else if (out_ready) out_v <= 1'b0;
        end
    end
    generate
        if (COUNT == 1) begin : g_one
            always @(posedge clk) if (fire) out_q <= in_data;
        end else if (COUNT == 2) begin : g_two
            reg [W-1:0] buffer;
            always @(posedge clk) if (fire) begin
                if (last) out_q <= {in_data, buffer};
                else buffer <= in_data;
            end
        end else begin : g_many
            // the tokens so far, the newest at the top
            reg [W*(COUNT-1)-1:0] buffer;
            always @(posedge clk) if (fire) begin
                if (last) out_q <= {in_data, buffer};
                else buffer <= {in_data, buffer[W*(COUNT-1)-1:W]};
            end
        end
    endgenerate
endmodule

`default_nettype wire
