// edgecc_fifo: part of the edgecc stream library, copied by edgecc into designs whose units run at different
// rates; every design that uses it gets the same text.
`timescale 1ns/1ps
`default_nettype none

// A first-in first-out buffer of DEPTH entries: a value written in one cycle can be read from the next.
module edgecc_fifo #(parameter WIDTH = 8, parameter DEPTH = 2, parameter AW = 1) (
    input  wire clk,
    input  wire rst,
    input  wire in_valid,
    output wire in_ready,
    input  wire [WIDTH-1:0] in_data,
    output wire out_valid,
    input  wire out_ready,
    output wire [WIDTH-1:0] out_data
);
    /* verilator lint_off WIDTHTRUNC */
    /* verilator lint_off WIDTHEXPAND */
    localparam [AW:0] FULL = DEPTH;
    localparam [AW-1:0] LAST = DEPTH - 1;
    /* verilator lint_on WIDTHEXPAND */
    /* verilator lint_on WIDTHTRUNC */
    reg [WIDTH-1:0] mem [0:DEPTH-1];
    reg [AW-1:0] wr_at;
    reg [AW-1:0] rd_at;
    reg [AW:0] count;
    wire push = in_valid & in_ready;
    wire pop = out_valid & out_ready;
    assign in_ready = count != FULL;
    assign out_valid = count != {(AW+1){1'b0}};
    assign out_data = mem[rd_at];
    always @(posedge clk) begin
        if (rst) begin
            wr_at <= {AW{1'b0}};
            rd_at <= {AW{1'b0}};
            count <= {(AW+1){1'b0}};
        end else begin
            if (push) wr_at <= (wr_at == LAST) ? {AW{1'b0}} : wr_at + {{(AW-1){1'b0}}, 1'b1};
            if (pop) rd_at <= (rd_at == LAST) ? {AW{1'b0}} : rd_at + {{(AW-1){1'b0}}, 1'b1};
            if (push && !pop) count <= count + {{AW{1'b0}}, 1'b1};
            else if (pop && !push) count <= count - {{AW{1'b0}}, 1'b1};
        end
    end
    always @(posedge clk) if (push) mem[wr_at] <= in_data;
endmodule

`default_nettype wire
